package nymapi

import (
	"math"
	"testing"
	"time"
)

// An epoch length from nym-api is hostile input: a huge secs must not wrap
// to a negative or short duration.
func TestNymAPIIntervalLengthSaturates(t *testing.T) {
	for _, tt := range []struct {
		secs  uint64
		nanos uint32
		want  time.Duration
	}{
		{3600, 0, time.Hour},
		{1, 500, time.Second + 500},
		{math.MaxUint64, 0, math.MaxInt64},
		{uint64(math.MaxInt64 / int64(time.Second)), 999_999_999, math.MaxInt64},
		{uint64(math.MaxInt64/int64(time.Second)) + 1, 0, math.MaxInt64},
	} {
		var iv NymAPIInterval
		iv.EpochLength.Secs, iv.EpochLength.Nanos = tt.secs, tt.nanos
		if got := iv.Length(); got != tt.want {
			t.Errorf("Length(secs %d, nanos %d) = %v, want %v", tt.secs, tt.nanos, got, tt.want)
		}
	}
}
