package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/common/config"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/internal/daemon"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// runDemo runs the real daemon against the embedded simulated network with
// its scripted outage, on settings short enough that an incident is drafted
// and paged within a minute.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", config.DefaultListen, "address the HTTP API listens on")
	dataDir := fs.String("data-dir", "", "directory for the store and the generated tokens (default: a new temporary directory, removed at exit)")
	amURL := fs.String("alertmanager.url", "", "also page this Alertmanager (API v2), as a real deployment would")
	noScript := fs.Bool("no-outage", false, "do not run the scripted outage (inject faults yourself)")
	lf := addLogFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: nymwatch demo [--listen ADDR] [--data-dir DIR] [--alertmanager.url URL]

Starts a simulated Nym network on loopback (nym-api, the NymVPN API, gateways
and mix nodes) and runs the nymwatch daemon against it. About 10s in, 40% of the
exit gateways start refusing connections and one entry gateway hangs: watch the
draft incident being opened and paged, then confirm it with the printed
commands. Everything recovers about 45s in.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	logger := lf.logger(stderr)

	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "nymwatch-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "nymwatch demo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "nymwatch demo: %v\n", err)
		return 1
	}

	if _, err := simnet.RaiseFDLimit(); err != nil {
		logger.Debug("could not raise the open-files limit", "err", err)
	}
	netOpts := simnet.DemoOptions()
	netOpts.Logger = logger
	network, err := simnet.New(netOpts)
	if err != nil {
		fmt.Fprintf(stderr, "nymwatch demo: simulated network: %v\n", err)
		return 1
	}
	netCtx, stopNet := context.WithCancel(ctx)
	defer stopNet()
	if err := network.Start(netCtx); err != nil {
		fmt.Fprintf(stderr, "nymwatch demo: start simulated network: %v\n", err)
		return 1
	}
	defer network.Close()

	cfg, err := demoConfig(network, dir, *listen, *amURL)
	if err != nil {
		fmt.Fprintf(stderr, "nymwatch demo: %v\n", err)
		return 1
	}
	out := &lockedWriter{w: stdout}
	started := func(addr net.Addr) {
		base := "http://" + addr.String()
		fmt.Fprintf(out, `
nymwatch demo is running against a simulated Nym network of %d nodes.

  web console:     %s/   (log in with the operator token)
  API:             %s/api/v1/incidents
  metrics:         %s/metrics
  operator token:  %s
                   (also in %s)

Try, in another terminal:
  export NYMWATCH_TOKEN=%s NYMWATCH_SERVER=%s
  nymwatch incidents list
  nymwatch incidents show INC-...
  nymwatch incidents confirm INC-...

`, len(network.Nodes()), base, base, base, string(cfg.Auth.OperatorToken), cfg.Auth.OperatorTokenFile,
			string(cfg.Auth.OperatorToken), base)
		if *noScript {
			return
		}
		fmt.Fprintf(out, "Scripted outage: at +%s %s.\n\n", simnet.DemoOutageAt, simnet.DemoScript()[0].Say)
		go func() {
			if err := network.RunScript(netCtx, simnet.SystemClock{}, simnet.DemoScript(), logger); err != nil && netCtx.Err() == nil {
				logger.Error("demo script failed", "err", err)
			}
		}()
	}
	err = daemon.Run(ctx, daemon.Options{
		Config:      cfg,
		Logger:      logger,
		Registry:    prometheus.NewRegistry(),
		Reload:      hup,
		Getenv:      os.Getenv,
		ExtraPagers: []page.Pager{&consolePager{w: out}},
		Started:     started,
	})
	if err != nil {
		logger.Error("nymwatch demo stopped with an error", "err", err)
		return 1
	}
	return 0
}

// demoConfig is the production config with the simulated network's
// addresses and short timings: the whole outage plays out in a minute.
func demoConfig(n *simnet.Network, dir, listen, amURL string) (*config.Config, error) {
	cfg := config.Default()
	cfg.Listen = listen
	// Pages link to the console's incident page, when the address says
	// where that is (not for ":9478" or port 0).
	if host, port, err := net.SplitHostPort(listen); err == nil && host != "" && port != "0" {
		cfg.Web.ExternalURL = "http://" + listen
	}
	cfg.Storage.Path = filepath.Join(dir, "nymwatch.db")
	cfg.Network.NymAPIURL = n.NymAPIURL()
	cfg.Network.RefreshInterval = 10 * time.Second
	cfg.Network.AllowPrivateAddresses = true // the simulated nodes live on 127/8
	cfg.Probes.Interval = 2 * time.Second
	cfg.Probes.Timeout = time.Second
	cfg.Probes.FailureThreshold = 2
	cfg.Probes.RecoveryThreshold = 2
	cfg.Services = []config.Service{
		{Name: "nym-api", URL: n.NymAPIURL(), Kind: config.ServiceKindNymAPI, LatencyThreshold: 500 * time.Millisecond},
		{Name: "nymvpn-api", URL: n.NymVPNAPIURL(), Kind: config.ServiceKindNymVPNAPI, LatencyThreshold: 500 * time.Millisecond},
	}
	cfg.ControlTargets = n.ControlURLs()
	cfg.Classification.Degradation.Sustain = 30 * time.Second
	cfg.Pagers.Alertmanager.ResendInterval = 15 * time.Second
	cfg.Pagers.Escalation = []time.Duration{2 * time.Minute, 10 * time.Minute}
	if amURL != "" {
		cfg.Pagers.Alertmanager.URL = amURL
	}
	op, err := writeToken(filepath.Join(dir, "operator-token"))
	if err != nil {
		return nil, err
	}
	wh, err := writeToken(filepath.Join(dir, "webhook-token"))
	if err != nil {
		return nil, err
	}
	cfg.Auth.OperatorTokenFile, cfg.Auth.OperatorToken = filepath.Join(dir, "operator-token"), promconfig.Secret(op)
	cfg.Auth.WebhookTokenFile, cfg.Auth.WebhookToken = filepath.Join(dir, "webhook-token"), promconfig.Secret(wh)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	return cfg, nil
}

// writeToken generates a random token and stores it in a file only the
// user can read, as a real deployment would.
func writeToken(path string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return tok, nil
}

// consolePager "pages" by printing to the terminal, so the demo shows the
// page a human would receive without any pager set up.
type consolePager struct{ w io.Writer }

func (p *consolePager) Name() string { return "console" }

func (p *consolePager) Send(_ context.Context, pg page.Page) error {
	if pg.Resolved {
		fmt.Fprintf(p.w, "PAGE ENDED  %s: a human acted on it\n", pg.IncidentID)
		return nil
	}
	// Re-sends keep an Alertmanager alert alive; on a terminal one line
	// per re-send is enough.
	if strings.Contains(pg.Key, "/resend/") {
		fmt.Fprintf(p.w, "PAGE (re-sent, still waiting for a human) [%s] %s\n", pg.Labels["severity"], pg.IncidentID)
		return nil
	}
	fmt.Fprintf(p.w, "PAGE [%s] %s %s (%s): %s\n  first seen %s — open %s\n  confirm: nymwatch incidents confirm %s | dismiss: nymwatch incidents dismiss %s --reason \"...\"\n",
		pg.Labels["severity"], pg.IncidentID, pg.Labels["class"], pg.Labels["component"], pg.Annot["summary"],
		pg.StartsAt.UTC().Format(time.RFC3339), pg.Annot["incident_url"], pg.IncidentID, pg.IncidentID)
	return nil
}

// lockedWriter serialises the banner and the pages on stdout.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
