// Package unixms converts between time.Time and UTC unix milliseconds, the
// precision nymwatch stores and sends every timestamp in (a time read back
// compares equal to the one saved). The zero time and 0 map to each other,
// so "unknown" survives a round trip.
package unixms

import "time"

// From returns t as unix milliseconds; the zero time gives 0.
func From(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time is the inverse of From, in UTC; 0 gives the zero time.
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
