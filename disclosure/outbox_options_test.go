package disclosure

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOutboxOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts OutboxOptions
		want string
	}{
		{"descending delays", OutboxOptions{EscalationDelays: []time.Duration{time.Hour, 15 * time.Minute}}, "strictly ascending"},
		{"day end too long", OutboxOptions{DayEndWarning: 24 * time.Hour}, "below 24h"},
		{"resend too short", OutboxOptions{ResendInterval: 10 * time.Millisecond}, "at least 1s"},
		{"external url with query", OutboxOptions{ExternalURL: "https://x.example/?token=1"}, "external url"},
		{"backoff inverted", OutboxOptions{MinBackoff: time.Minute, MaxBackoff: time.Second}, "max backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := outboxDefaults(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	o, err := outboxDefaults(OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o.ResendInterval != time.Minute || o.DayEndWarning != time.Hour || o.MaxAge != 24*time.Hour ||
		!slices.Equal(o.EscalationDelays, []time.Duration{15 * time.Minute, time.Hour}) ||
		o.MinBackoff != 5*time.Second || o.MaxBackoff != 5*time.Minute {
		t.Errorf("defaults %+v", o)
	}
}
