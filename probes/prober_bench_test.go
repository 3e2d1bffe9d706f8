package probes

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkProbeLoopback is the probe hot path: one fresh connection per
// probe to loopback listeners, N targets per iteration probed with
// bounded concurrency, as the scheduler's workers do. Run with
//
//	go test -run '^$' -bench ProbeLoopback -benchmem ./probes
//
// It reports ns and allocs per probe. A mix probe watches its connection
// for ProberOptions.TCPSettle after connecting; that wait is disabled here so
// the figure is the CPU path. (The 10k-target run over the simulated network
// is BenchmarkScale10k.)
func BenchmarkProbeLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Silent until the prober hangs up, as a mix port is.
			go func() {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"up","uptime":1034127}`))
	}))
	defer srv.Close()

	const n, workers = 64, 8
	var targets []*Target
	for i := range n {
		if i%2 == 0 {
			targets = append(targets, &Target{ID: fmt.Sprintf("node/%d/mix_tcp", i), Kind: KindMixPort, Address: ln.Addr().String()})
		} else {
			targets = append(targets, &Target{ID: fmt.Sprintf("node/%d/node_http", i), Kind: KindNodeHTTP, Address: srv.Listener.Addr().String()})
		}
	}
	m := NewMulti(ProberOptions{TCPSettle: -1, AllowPrivate: true})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		next := make(chan *Target)
		for range workers {
			wg.Go(func() {
				for t := range next {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					if r := m.Probe(ctx, t); !r.OK {
						b.Errorf("%s: %s %s", t.ID, r.Reason, r.Detail)
					}
					cancel()
				}
			})
		}
		for _, t := range targets {
			next <- t
		}
		close(next)
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
}

// BenchmarkSchedulerDispatch10k measures the scheduler's own cost (slot
// lookup, queueing, workers, metrics, sink) for one interval of 10,000
// targets with a no-op prober.
func BenchmarkSchedulerDispatch10k(b *testing.B) {
	const n = 10000
	var wg sync.WaitGroup
	s, err := NewScheduler(SchedulerOptions{
		Interval: 30 * time.Second, Timeout: 5 * time.Second, Concurrency: 256,
		Prober: benchProberFunc(func(_ context.Context, t *Target) Result { return Result{Target: t, OK: true} }),
		Sink:   func(Result) { wg.Done() },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }() // nothing left to check at the end of a benchmark
	s.SetTargets(schedTargets(n, KindMixPort))
	s.mu.Lock()
	s.started = true
	s.resizeLocked()
	s.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.mu.Lock()
		// Pretend a whole interval passed since the last dispatch.
		s.epoch = time.Now().Add(-s.set.Interval + s.set.Slice/4)
		s.lastG = -1
		for _, st := range s.targets {
			st.lastCycle = -1
		}
		s.mu.Unlock()
		wg.Add(n)
		s.tick(context.Background())
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
}

// BenchmarkSchedulerSetTargets10k is a directory refresh at full scale.
func BenchmarkSchedulerSetTargets10k(b *testing.B) {
	s, err := NewScheduler(SchedulerOptions{
		Interval: 30 * time.Second, Timeout: 5 * time.Second, Concurrency: 1,
		Prober: benchProberFunc(func(_ context.Context, t *Target) Result { return Result{Target: t, OK: true} }),
		Sink:   func(Result) {},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }() // nothing left to check at the end of a benchmark
	a, c := schedTargets(10000, KindMixPort), schedTargets(10000, KindWSPort)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			s.SetTargets(a)
		} else {
			s.SetTargets(c)
		}
		i++
	}
}

type benchProberFunc func(ctx context.Context, t *Target) Result

func (f benchProberFunc) Probe(ctx context.Context, t *Target) Result { return f(ctx, t) }
