package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server limits. Bodies of the API are small JSON; the webhook receiver
// enforces its own (smaller) limit too.
const (
	maxBodyBytes      = 1 << 20
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// readiness is what /-/ready reports: the store is open and takes writes,
// and the first directory load has been attempted.
type readiness struct {
	storeOpen     atomic.Bool
	directoryDone atomic.Bool
	stopping      atomic.Bool
	// write proves the store takes writes; set before the server starts.
	write *writeCheck
}

func (r *readiness) ready(ctx context.Context) (bool, string) {
	switch {
	case r.stopping.Load():
		return false, "shutting down"
	case !r.storeOpen.Load():
		return false, "store not open"
	}
	if err := r.writable(ctx); err != nil {
		return false, err.Error()
	}
	if !r.directoryDone.Load() {
		return false, "first directory load not attempted yet"
	}
	return true, "ready"
}

// writable reports whether the store took a (recent, cached) heartbeat
// write: a read-only or full disk is neither ready nor healthy.
func (r *readiness) writable(ctx context.Context) error {
	if r.write == nil {
		return nil
	}
	if err := r.write.check(ctx); err != nil {
		return fmt.Errorf("the store refuses writes: %w", err)
	}
	return nil
}

// newMux builds the router: operational endpoints here, the API handlers
// mounted by the caller.
func newMux(reg *prometheus.Registry, rd *readiness) *http.ServeMux {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		EnableOpenMetrics: false,
		ErrorHandling:     promhttp.ContinueOnError,
	})
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, metrics))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := rd.writable(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "nymwatch is not healthy: %s.\n", err)
			return
		}
		fmt.Fprintln(w, "nymwatch is healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, why := rd.ready(r.Context())
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "nymwatch is not ready: %s.\n", why)
			return
		}
		fmt.Fprintln(w, "nymwatch is ready.")
	})
	return mux
}

// limitBodies caps every request body so no handler can be fed an
// unbounded stream.
func limitBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		h.ServeHTTP(w, r)
	})
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           limitBodies(h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln until ctx ends, then shuts it down within
// shutdownTimeout so in-flight requests (and their writes) finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
