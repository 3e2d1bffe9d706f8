package config

import (
	"strings"
	"testing"
	"time"
)

func TestPromotionLookback(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"", 30 * time.Minute, ""},
		{"classification:\n  promotion_lookback: 2h\n", 2 * time.Hour, ""},
		{"classification:\n  promotion_lookback: 0s\n", 0, "config.yaml:2: classification.promotion_lookback: must be greater than 0, got 0s"},
		{"classification:\n  promotion_lookback: -5m\n", 0, "config.yaml:2: classification.promotion_lookback:"},
		{"classification:\n  promotion_lookback: soon\n", 0, "config.yaml:2: classification.promotion_lookback:"},
	} {
		c, err := Parse([]byte(tc.in), "config.yaml", t.TempDir())
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case c.Classification.PromotionLookback != tc.want:
			t.Errorf("%q: %s, want %s", tc.in, c.Classification.PromotionLookback, tc.want)
		}
	}
}
