// Package daemontest runs the real nymwatch daemon in-process against a
// simulated Nym network, for tests that check it from the outside (the
// OpenAPI description, the dashboard's metrics). Test code only.
package daemontest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/common/config"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/daemon"
	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// Tokens the daemon is started with.
const (
	OperatorToken = "daemontest-operator-token-0123456789"
	WebhookToken  = "daemontest-webhook-token-0123456789"
	ClusterToken  = "daemontest-cluster-token-0123456789"
)

// Daemon is a running daemon and the network it watches.
type Daemon struct {
	URL      string // http://127.0.0.1:PORT
	Net      *simnet.Network
	Registry *prometheus.Registry
	// StatusURL is the public status page (http://127.0.0.1:PORT), when the
	// config sets status.listen.
	StatusURL string
	// StorePath is the SQLite file the daemon keeps its state in.
	StorePath string

	cancel    context.CancelFunc
	done      chan error
	stopOnce  sync.Once
	stopErr   error
	configure func(*config.Config)
}

// Stop cancels the daemon's context as a SIGTERM does and returns what
// daemon.Run returned: nil for a clean shutdown. It may be called more
// than once (the test's cleanup calls it too); the network stays up until
// the test ends.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		d.cancel()
		d.stopErr = <-d.done
	})
	return d.stopErr
}

// Start starts a simulated network of the given shape and the daemon
// against it, with short intervals (probes every 1s, 2 failures to fail)
// and the tokens above; configure, if set, changes the config before it is
// validated. Both stop at the end of the test.
func Start(t *testing.T, shape simnet.Options, configure func(*config.Config)) *Daemon {
	t.Helper()
	if _, err := simnet.RaiseFDLimit(); err != nil {
		t.Logf("open-files limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	network, err := simnet.New(shape)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := network.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	// Registered first, so it runs last: after every daemon on it stopped.
	t.Cleanup(func() {
		cancel()
		network.Close()
	})
	return start(t, network, filepath.Join(t.TempDir(), "nymwatch.db"), configure)
}

// Restart stops d, failing the test unless daemon.Run returned nil, and
// starts a new daemon on the same network and store with the same
// configure, as restarting the process does. The new daemon has a new
// registry and address.
func Restart(t *testing.T, d *Daemon) *Daemon {
	t.Helper()
	if err := d.Stop(); err != nil {
		t.Fatalf("daemon stopped with an error before the restart: %v", err)
	}
	return start(t, d.Net, d.StorePath, d.configure)
}

// start runs daemon.Run against network with its store at storePath,
// until the test ends.
func start(t *testing.T, network *simnet.Network, storePath string, configure func(*config.Config)) *Daemon {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = storePath
	cfg.Network.NymAPIURL = network.NymAPIURL()
	cfg.Network.RefreshInterval = 5 * time.Second
	cfg.Network.AllowPrivateAddresses = true // the simulated network lives on loopback
	cfg.Probes.Interval = time.Second
	cfg.Probes.Timeout = 500 * time.Millisecond
	cfg.Probes.FailureThreshold = 2
	cfg.Probes.RecoveryThreshold = 2
	cfg.Services = []config.Service{{Name: "nym-api", URL: network.NymAPIURL(), Kind: config.ServiceKindNymAPI, LatencyThreshold: 500 * time.Millisecond}}
	cfg.ControlTargets = network.ControlURLs()
	cfg.Auth.OperatorToken = promconfig.Secret(OperatorToken)
	cfg.Auth.WebhookToken = promconfig.Secret(WebhookToken)
	cfg.Cluster.Token = promconfig.Secret(ClusterToken)
	if configure != nil {
		configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	statusAddr := make(chan string, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			Config:        cfg,
			Logger:        slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			Registry:      reg,
			Getenv:        func(string) string { return "" },
			Listener:      ln,
			StatusStarted: func(addr string) { statusAddr <- addr },
		})
	}()
	d := &Daemon{URL: "http://" + ln.Addr().String(), Net: network, Registry: reg, StorePath: cfg.Storage.Path,
		cancel: cancel, done: done, configure: configure}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("daemon stopped with an error: %v", err)
		}
	})
	if cfg.Status.Listen != "" {
		select {
		case addr := <-statusAddr:
			d.StatusURL = "http://" + addr
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("daemon stopped before the status page listened: %v", err)
		}
	}
	return d
}

// WaitFor is testutil.Eventually, kept for the tests that call it by this
// name. The limit is a safety net against a hang, not a timed assertion.
func WaitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, limit, what, cond)
}
