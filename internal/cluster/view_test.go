package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

func TestViewRoundTrip(t *testing.T) {
	in := detector.View{Instance: "ams-1", GeneratedAt: t0, Targets: sampleTargets()}
	var buf bytes.Buffer
	if err := EncodeView(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := DecodeView(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\n%+v", in, out)
	}
}

func TestDecodeViewRejects(t *testing.T) {
	ms := t0.UnixMilli()
	view := func(targets string) string {
		return fmt.Sprintf(`{"version":1,"instance":"b","generated_at":%d,"targets":[%s]}`, ms, targets)
	}
	tests := []struct {
		name, in string
		version  bool
	}{
		{"not json", `<html>`, false},
		{"empty", ``, false},
		{"null", `null`, true}, // version 0
		{"version 2", `{"version":2,"instance":"b","generated_at":1,"targets":[]}`, true},
		{"no instance", fmt.Sprintf(`{"version":1,"generated_at":%d,"targets":[]}`, ms), false},
		{"bad instance", fmt.Sprintf(`{"version":1,"instance":"b/../x","generated_at":%d,"targets":[]}`, ms), false},
		{"no generated_at", `{"version":1,"instance":"b","targets":[]}`, false},
		{"far future", `{"version":1,"instance":"b","generated_at":99999999999999,"targets":[]}`, false},
		{"empty id", view(`{"id":"","state":"healthy"}`), false},
		{"control char id", view(`{"id":"node/1\u0000","state":"healthy"}`), false},
		{"long id", view(`{"id":"` + strings.Repeat("x", 600) + `","state":"healthy"}`), false},
		{"duplicate", view(`{"id":"a","state":"healthy"},{"id":"a","state":"failing","first_seen":1}`), false},
		{"bad state", view(`{"id":"a","state":"down"}`), false},
		{"failing without first_seen", view(`{"id":"a","state":"failing"}`), false},
		{"negative time", view(`{"id":"a","state":"healthy","last_healthy":-5}`), false},
		{"time after generated_at", view(fmt.Sprintf(`{"id":"a","state":"healthy","last_observed":%d}`, ms+1)), false},
		{"last_healthy after first_seen", view(`{"id":"a","state":"failing","first_seen":10,"last_healthy":20}`), false},
		{"wrong type", view(`{"id":7,"state":"healthy"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeView([]byte(tt.in))
			want := ErrInvalidView
			if tt.version {
				want = ErrViewVersion
			}
			if !errors.Is(err, want) {
				t.Errorf("err = %v, want %v", err, want)
			}
		})
	}
}

func TestDecodeViewSanitizes(t *testing.T) {
	ms := t0.UnixMilli()
	in := fmt.Sprintf(`{"version":1,"instance":"b","generated_at":%d,"future_field":true,"targets":[
		{"id":"a","state":"failing","first_seen":%d,"reason":"%s","detail":"GET https://user:pw@x.example/h?token=s3cret\u0007 failed","recovered_at":5},
		{"id":"b","state":"unknown","last_healthy":7,"reason":"x"}]}`, ms, ms-1000, strings.Repeat("r", 100))
	v, err := DecodeView([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := v.Targets[0]
	if len(a.Reason) != maxReasonLen || strings.Contains(a.Detail, "pw@") || strings.Contains(a.Detail, "s3cret") ||
		strings.ContainsRune(a.Detail, '\a') || !a.RecoveredAt.IsZero() {
		t.Errorf("failing target not sanitized: %+v", a)
	}
	if b := v.Targets[1]; !b.LastHealthy.IsZero() || b.Reason != "" {
		t.Errorf("unknown target keeps data: %+v", b)
	}
}

// FuzzDecodeView: any input either fails cleanly or yields a view that
// survives an encode/decode round trip unchanged (so what the detector
// gets is exactly what the format can say) and keeps the invariants.
func FuzzDecodeView(f *testing.F) {
	var buf bytes.Buffer
	_ = EncodeView(&buf, detector.View{Instance: "ams-1", GeneratedAt: t0, Targets: sampleTargets()})
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"instance":"b","generated_at":1,"targets":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeView(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidView) && !errors.Is(err, ErrViewVersion) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		for _, tv := range v.Targets {
			if tv.ID == "" || !tv.State.Valid() || anyAfter(tv, v.GeneratedAt) {
				t.Fatalf("invariant broken: %+v", tv)
			}
			if tv.State == detector.ViewFailing && tv.FirstSeen.IsZero() {
				t.Fatalf("failing without first_seen: %+v", tv)
			}
		}
		var out bytes.Buffer
		if err := EncodeView(&out, v); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeView(out.Bytes())
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out.Bytes())
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip changed the view:\n%+v\n%+v", v, again)
		}
	})
}

// anyAfter reports whether one of tv's times is after at.
func anyAfter(tv detector.TargetView, at time.Time) bool {
	for _, x := range []time.Time{tv.FirstSeen, tv.LastHealthy, tv.RecoveredAt, tv.LastObserved} {
		if x.After(at) {
			return true
		}
	}
	return false
}

func benchView() detector.View {
	v := detector.View{Instance: "ams-1", GeneratedAt: t0}
	for i := range 10000 {
		tv := detector.TargetView{ID: fmt.Sprintf("node/%d/node_http", i+1), State: detector.ViewHealthy,
			LastHealthy: t0.Add(-time.Second), LastObserved: t0.Add(-time.Second)}
		if i%100 == 0 {
			tv = detector.TargetView{ID: tv.ID, State: detector.ViewFailing, FirstSeen: t0.Add(-time.Minute),
				LastHealthy: t0.Add(-90 * time.Second), LastObserved: t0.Add(-time.Second), Reason: "timeout",
				Detail: "GET /api/v1/health: no answer within 5s"}
		}
		v.Targets = append(v.Targets, tv)
	}
	return v
}

// BenchmarkServeView10k: one request for a 10,000-target view, gzip.
func BenchmarkServeView10k(b *testing.B) {
	src := newFake("ams-1", benchView().Targets...)
	c, err := New(Options{Self: "ams-1", Source: src, Sink: src, Tokens: []string{clusterToken}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, ViewPath, nil)
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "gzip-bytes")
}

func BenchmarkDecodeView10k(b *testing.B) {
	var buf bytes.Buffer
	_ = EncodeView(&buf, benchView())
	b.ReportAllocs()
	b.ReportMetric(float64(buf.Len()), "json-bytes")
	for b.Loop() {
		if _, err := DecodeView(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
