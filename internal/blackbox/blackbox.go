// Package blackbox runs prometheus/blackbox_exporter as a child process and
// scrapes it the way Prometheus does, so that the benchmarks (the probes
// benchmark, -bench Scale10k, and the whole-daemon command internal/bench)
// can measure it on the same targets as nymwatch. It is test tooling: the
// daemon never uses it.
//
// It does not import probes (the probes package's own tests use it), so
// targets are described by nymwatch's kind names ("node_http", "mix_tcp",
// "ws_tcp") and addresses.
package blackbox

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // the websocket handshake is defined with SHA-1 (RFC 6455)
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// BinaryEnv overrides where the exporter binary is looked for.
const BinaryEnv = "NYMWATCH_BLACKBOX_EXPORTER"

// DefaultBinary is where Debian's prometheus-blackbox-exporter package
// installs it.
const DefaultBinary = "/usr/bin/prometheus-blackbox-exporter"

// WSKey is the fixed Sec-WebSocket-Key of the exporter's websocket module
// (its tcp prober cannot generate one per probe); the expected
// Sec-WebSocket-Accept is derived from it, so a 101 with a wrong accept
// fails as it does for nymwatch.
const WSKey = "bnltd2F0Y2gtYmVuY2htYXJr" // base64("nymwatch-benchmark")

// ScrapeTimeout is the X-Prometheus-Scrape-Timeout-Seconds the driver
// sends, as Prometheus does with scrape_timeout: 5.5s. The exporter
// subtracts its --timeout-offset (0.5 s) and takes the smaller of that and
// the module's timeout, so every probe gets the same 5 s as nymwatch's
// probes.timeout, and the exporter still has time to answer the scrape.
const ScrapeTimeout = 5500 * time.Millisecond

// Config is the exporter's module file: the closest equivalent of each
// nymwatch prober that blackbox_exporter 0.23 can express.
//
//   - node_http (NodeHTTPProber): GET, 200 only, body must say
//     "status":"up" (a regexp: 0.23 has no JSON checks). IPv4 only and no
//     fallback, so the exporter does not first try IPv6 for an IPv4
//     literal; a fresh connection per probe, as nymwatch.
//   - mix_tcp (TCPProber): connect and close. blackbox has no equivalent of
//     nymwatch's 200 ms settle watch (a read that must time out), so it does
//     less work here, and it does not notice a port that accepts and then
//     resets or speaks first.
//   - ws_upgrade (WebsocketProber): 0.23 has no websocket prober; the tcp
//     prober sends the same RFC 6455 upgrade and expects the 101 status line
//     and the Sec-WebSocket-Accept for the fixed key. "Connection: Upgrade,
//     close" (still a valid upgrade) makes a server that refuses the upgrade
//     close after its error answer: otherwise the exporter, which cannot
//     fail on a non-matching line, would wait out the timeout on every 503.
//     The exporter appends "\n" to each send; the lone "\r" before it ends
//     the header block with CRLF CRLF.
func Config() string {
	sum := sha1.Sum([]byte(WSKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	accept := base64.StdEncoding.EncodeToString(sum[:])
	return `modules:
  node_http:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      headers:
        Accept: application/json
        User-Agent: nymwatch
      fail_if_body_not_matches_regexp:
        - '"status"\s*:\s*"up"'
  mix_tcp:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  ws_upgrade:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      query_response:
        - send: "GET / HTTP/1.1\r\nHost: gateway\r\nUser-Agent: nymwatch\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: ` + WSKey + `\r\nSec-WebSocket-Version: 13\r\n\r"
        - expect: "^HTTP/1\\.1 101 "
        - expect: "^(?i:sec-websocket-accept): ` + regexpQuoteYAML(accept) + `$"
`
}

// regexpQuoteYAML escapes an accept value (base64: only + and / need it in a
// regexp, and the backslash must be doubled inside a YAML double-quoted
// string).
func regexpQuoteYAML(s string) string {
	return strings.ReplaceAll(s, "+", `\\+`)
}

// Module maps a nymwatch target kind and address onto the exporter's
// module and target parameter; ok is false for kinds it has no module for.
func Module(kind, address string) (module, target string, ok bool) {
	switch kind {
	case "node_http":
		base := address
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return "node_http", strings.TrimRight(base, "/") + "/api/v1/health", true
	case "mix_tcp":
		return "mix_tcp", address, true
	case "ws_tcp":
		return "ws_upgrade", address, true
	}
	return "", "", false
}

// Binary is the exporter's path ($NYMWATCH_BLACKBOX_EXPORTER, else
// DefaultBinary), or an error saying why it is unavailable.
func Binary() (string, error) {
	p := os.Getenv(BinaryEnv)
	if p == "" {
		p = DefaultBinary
	}
	if _, err := os.Stat(p); err != nil { //nolint:gosec // the benchmark operator's own path, not remote input
		return "", fmt.Errorf("blackbox_exporter not found at %s (install the Debian package prometheus-blackbox-exporter or set %s): %w", p, BinaryEnv, err)
	}
	return p, nil
}

// Exporter is a running exporter child.
type Exporter struct {
	Pid  int
	Base string // http://127.0.0.1:port

	cmd  *exec.Cmd
	done chan struct{}
	logs *testutil.Buffer
}

// Start runs the exporter bin with Config on a free loopback port, its
// module file in dir, and waits until it answers (at most 30 s). Stop it
// with Stop.
func Start(ctx context.Context, bin, dir string) (*Exporter, error) {
	cfg := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(Config()), 0o600); err != nil {
		return nil, fmt.Errorf("blackbox config: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("blackbox port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // a tiny race with other processes for the port; startup fails loudly if lost

	// The first 64 KiB of the child's output: enough to see why it failed.
	logs := &testutil.Buffer{Limit: 64 << 10}
	// Default flags otherwise (log level info: the exporter logs each
	// probe at debug only; --history.limit 100), as packaged.
	cmd := exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr) //nolint:gosec // the operator's exporter binary
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start blackbox_exporter: %w", err)
	}
	e := &Exporter{Pid: cmd.Process.Pid, Base: "http://" + addr, cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() {
		_ = cmd.Wait()
		close(e.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.Base+"/-/healthy", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e, nil
			}
			err = fmt.Errorf("/-/healthy answered %s", resp.Status)
		}
		select {
		case <-e.done:
			return nil, fmt.Errorf("blackbox_exporter exited at startup:\n%s", logs.String())
		case <-ctx.Done():
			e.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("blackbox_exporter not ready after 30s (%w):\n%s", err, logs.String())
		}
	}
}

// Stop interrupts the exporter and waits for it (killing it after 10 s).
func (e *Exporter) Stop() {
	_ = e.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-e.done:
	case <-t.C:
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// Logs is what the exporter printed (the first 64 KiB).
func (e *Exporter) Logs() string { return e.logs.String() }

// prometheusAccept is the Accept header Prometheus 2.x sends by default.
const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// Driver asks the exporter to probe targets, each as one Prometheus
// scrape of /probe: kept-alive connections to the exporter, gzip accepted,
// the scrape timeout header set, the whole answer read.
type Driver struct {
	client *http.Client
	probe  string // base + "/probe"
}

// NewDriver scrapes the exporter at base with up to concurrency kept-alive
// connections.
func NewDriver(base string, concurrency int) *Driver {
	tr := &http.Transport{
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     time.Minute,
		// DisableCompression false: the transport asks for gzip and
		// inflates, as Prometheus (enable_compression: true, the default).
	}
	return &Driver{client: &http.Client{Transport: tr}, probe: base + "/probe"}
}

// Close drops the kept-alive connections.
func (d *Driver) Close() { d.client.CloseIdleConnections() }

// Outcome is one scrape's answer. Reason is "" when OK; "scrape_error",
// "scrape_timeout", "scrape_status" and "no_probe_success" mean the scrape
// itself failed (Scraped false); "probe_failed" that the exporter's probe
// did (probe_success 0).
type Outcome struct {
	OK      bool
	Scraped bool
	Reason  string
	Detail  string
}

// Scrape asks the exporter to run module against target once.
func (d *Driver) Scrape(ctx context.Context, module, target string) Outcome {
	q := url.Values{"module": {module}, "target": {target}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.probe+"?"+q.Encode(), nil)
	if err != nil {
		return Outcome{Reason: "scrape_error", Detail: err.Error()}
	}
	req.Header.Set("Accept", prometheusAccept)
	req.Header.Set("User-Agent", "Prometheus/2.53.0")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", ScrapeTimeout.Seconds()))
	resp, err := d.client.Do(req)
	if err != nil {
		o := Outcome{Reason: "scrape_error", Detail: err.Error()}
		if errors.Is(err, context.DeadlineExceeded) {
			o.Reason = "scrape_timeout"
		}
		return o
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return Outcome{Reason: "scrape_status", Detail: resp.Status}
	}
	// Read all of it, as a scrape does; note probe_success on the way.
	sc := bufio.NewScanner(resp.Body)
	success := ""
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "probe_success "); ok {
			success = v
		}
	}
	switch {
	case sc.Err() != nil:
		return Outcome{Reason: "scrape_error", Detail: sc.Err().Error()}
	case success == "1":
		return Outcome{OK: true, Scraped: true}
	case success == "":
		return Outcome{Reason: "no_probe_success"}
	default:
		return Outcome{Scraped: true, Reason: "probe_failed"}
	}
}
