package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// storm posts rate alerts per second to the daemon's Alertmanager webhook
// for d, in POSTs of 100 (as Alertmanager batches them): each alert fires
// once and is resolved two seconds later, so the daemon holds about
// 2 × rate at once. It counts the alerts by the answer their POST got.
type storm struct {
	url, token string
	rate       int
	d          time.Duration

	sent, accepted, refused, failed atomic.Int64
}

type stormAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

func (s *storm) run(ctx context.Context) {
	const batch = 100
	per := max(s.rate/batch, 1) // POSTs per second
	tick := time.NewTicker(time.Second / time.Duration(per))
	defer tick.Stop()
	end := time.Now().Add(s.d)
	client := &http.Client{Timeout: 30 * time.Second}
	type fired struct {
		a  stormAlert
		at time.Time
	}
	var open []fired
	n := 0
	for now := time.Now(); now.Before(end); now = time.Now() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var alerts []stormAlert
		for len(open) > 0 && now.Sub(open[0].at) >= 2*time.Second && len(alerts) < batch/2 {
			a := open[0].a
			a.Status, a.EndsAt = "resolved", now.UTC()
			alerts = append(alerts, a)
			open = open[1:]
		}
		for len(alerts) < batch {
			n++
			a := stormAlert{Status: "firing", Labels: map[string]string{"alertname": "BenchStorm",
				"instance": "storm-" + strconv.Itoa(n), "class": "internal"}, Annotations: map[string]string{},
				StartsAt: now.UTC(), Fingerprint: fmt.Sprintf("%016x", n)}
			alerts = append(alerts, a)
			open = append(open, fired{a, now})
		}
		s.post(ctx, client, alerts)
	}
}

func (s *storm) post(ctx context.Context, client *http.Client, alerts []stormAlert) {
	body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "nymwatch",
		"groupKey": "{}:{alertname=\"BenchStorm\"}", "groupLabels": map[string]string{"alertname": "BenchStorm"},
		"commonLabels": map[string]string{}, "commonAnnotations": map[string]string{}, "alerts": alerts})
	s.sent.Add(int64(len(alerts)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		s.failed.Add(int64(len(alerts)))
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := client.Do(req)
	if err != nil {
		s.failed.Add(int64(len(alerts)))
		return
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		s.accepted.Add(int64(len(alerts)))
	case resp.StatusCode == http.StatusTooManyRequests:
		s.refused.Add(int64(len(alerts)))
	default:
		s.failed.Add(int64(len(alerts)))
	}
}
