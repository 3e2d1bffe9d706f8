package unixms

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
		ms   int64
		out  time.Time
	}{
		{"zero is unknown", time.Time{}, 0, time.Time{}},
		{"UTC", time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC), 1778929200000, time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)},
		{"sub-millisecond dropped", time.Date(2026, 5, 16, 11, 0, 0, 1_999_999, time.UTC), 1778929200001, time.Date(2026, 5, 16, 11, 0, 0, 1_000_000, time.UTC)},
		{"other zone read back in UTC", time.Date(2026, 5, 16, 13, 0, 0, 0, time.FixedZone("CEST", 2*3600)), 1778929200000, time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), -1000, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := From(tc.in)
			if ms != tc.ms {
				t.Fatalf("From(%v) = %d, want %d", tc.in, ms, tc.ms)
			}
			got := Time(ms)
			if got != tc.out { // == also checks the location is UTC
				t.Fatalf("Time(%d) = %v (%v), want %v", ms, got, got.Location(), tc.out)
			}
		})
	}
}

// A monotonic clock reading does not leak into the value.
func TestMonotonicStripped(t *testing.T) {
	now := time.Now()
	if got := Time(From(now)); !got.Equal(now.Truncate(time.Millisecond)) || got != got.Round(0) {
		t.Fatalf("Time(From(now)) = %v, want %v without a monotonic reading", got, now.Truncate(time.Millisecond))
	}
}
