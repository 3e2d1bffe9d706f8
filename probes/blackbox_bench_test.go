package probes

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // the websocket handshake is defined with SHA-1 (RFC 6455)
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// BenchmarkScale10k's second half runs the same targets through
// prometheus/blackbox_exporter, the tool an operator would otherwise use,
// scraped the way Prometheus scrapes it. This file holds the exporter's
// child process, its module configuration and the driver that plays
// Prometheus.

// blackboxBinaryEnv overrides where the exporter binary is looked for.
const blackboxBinaryEnv = "NYMWATCH_BLACKBOX_EXPORTER"

// blackboxDefaultBinary is where Debian's prometheus-blackbox-exporter
// package installs it.
const blackboxDefaultBinary = "/usr/bin/prometheus-blackbox-exporter"

// blackboxWSKey is the fixed Sec-WebSocket-Key of the exporter's websocket
// module (its tcp prober cannot generate one per probe); the expected
// Sec-WebSocket-Accept is derived from it, so a 101 with a wrong accept
// fails as it does for nymwatch.
const blackboxWSKey = "bnltd2F0Y2gtYmVuY2htYXJr" // base64("nymwatch-benchmark")

// blackboxScrapeTimeout is the X-Prometheus-Scrape-Timeout-Seconds the
// driver sends, as Prometheus does with scrape_timeout: 5.5s. The exporter
// subtracts its --timeout-offset (0.5 s) and takes the smaller of that and
// the module's timeout, so every probe gets the same 5 s as nymwatch's
// probes.timeout, and the exporter still has time to answer the scrape.
const blackboxScrapeTimeout = 5500 * time.Millisecond

// blackboxConfig is the exporter's module file: the closest equivalent of
// each nymwatch prober that blackbox_exporter 0.23 can express.
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
func blackboxConfig() string {
	sum := sha1.Sum([]byte(blackboxWSKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
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
        - send: "GET / HTTP/1.1\r\nHost: gateway\r\nUser-Agent: nymwatch\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: ` + blackboxWSKey + `\r\nSec-WebSocket-Version: 13\r\n\r"
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

// blackboxModule maps a nymwatch target onto the exporter's module and
// target parameter.
func blackboxModule(t *Target) (module, target string, ok bool) {
	switch t.Kind {
	case KindNodeHTTP:
		base := t.Address
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return "node_http", strings.TrimRight(base, "/") + "/api/v1/health", true
	case KindMixPort:
		return "mix_tcp", t.Address, true
	case KindWSPort:
		return "ws_upgrade", t.Address, true
	}
	return "", "", false
}

// blackboxBinary is the exporter's path, or "" with the reason it is
// unavailable.
func blackboxBinary() (string, string) {
	p := os.Getenv(blackboxBinaryEnv)
	if p == "" {
		p = blackboxDefaultBinary
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Sprintf("blackbox_exporter not found at %s (install the Debian package prometheus-blackbox-exporter or set %s): %v", p, blackboxBinaryEnv, err)
	}
	return p, ""
}

// blackboxExporter is the running exporter child.
type blackboxExporter struct {
	pid  int
	base string // http://127.0.0.1:port
}

// startBlackbox runs the exporter with blackboxConfig on a free loopback
// port and waits until it answers; it is stopped at cleanup.
func startBlackbox(b testing.TB, bin string) *blackboxExporter {
	b.Helper()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(cfg, []byte(blackboxConfig()), 0o600); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // a tiny race with other processes for the port; startup fails loudly if lost
	var logs testutil.Buffer
	logs.Limit = 64 << 10
	// Default flags otherwise (log level info: the exporter logs each
	// probe at debug only; --history.limit 100), as packaged.
	cmd := exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://" + addr
	var lastErr error
	if !testutil.Poll(b, 30*time.Second, func() bool {
		select {
		case <-done:
			b.Fatalf("blackbox_exporter exited at startup:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(base + "/-/healthy")
		if lastErr = err; err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		b.Fatalf("blackbox_exporter not ready after 30s (%v):\n%s", lastErr, logs.String())
	}
	b.Logf("blackbox_exporter %s on %s, pid %d", bin, addr, cmd.Process.Pid)
	return &blackboxExporter{pid: cmd.Process.Pid, base: base}
}

// prometheusAccept is the Accept header Prometheus 2.x sends by default.
const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// blackboxDriver is a Prober that asks the exporter to probe the target,
// as one Prometheus scrape of /probe: kept-alive connections to the
// exporter, gzip accepted, the scrape timeout header set, the whole answer
// read. It is driven by a Scheduler, so the scrapes are spread over the
// interval exactly as nymwatch's probes are.
type blackboxDriver struct {
	client *http.Client
	probe  string // base + "/probe"
}

func newBlackboxDriver(base string, concurrency int) *blackboxDriver {
	tr := &http.Transport{
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     time.Minute,
		// DisableCompression false: the transport asks for gzip and
		// inflates, as Prometheus (enable_compression: true, the default).
	}
	return &blackboxDriver{client: &http.Client{Transport: tr}, probe: base + "/probe"}
}

// Probe implements Prober. The Result says whether the exporter's probe
// succeeded (probe_success) and, if the scrape itself failed, why.
func (d *blackboxDriver) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	res := d.scrape(ctx, t)
	res.Target, res.At, res.Latency = t, start.UTC(), time.Since(start)
	return res
}

func (d *blackboxDriver) scrape(ctx context.Context, t *Target) Result {
	var res Result
	module, target, ok := blackboxModule(t)
	if !ok {
		res.Reason = "no_module"
		return res
	}
	q := url.Values{"module": {module}, "target": {target}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.probe+"?"+q.Encode(), nil)
	if err != nil {
		res.Reason, res.Detail = "scrape_error", err.Error()
		return res
	}
	req.Header.Set("Accept", prometheusAccept)
	req.Header.Set("User-Agent", "Prometheus/2.53.0")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", blackboxScrapeTimeout.Seconds()))
	resp, err := d.client.Do(req)
	if err != nil {
		res.Reason, res.Detail = "scrape_error", err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			res.Reason = "scrape_timeout"
		}
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		res.Reason, res.Detail = "scrape_status", resp.Status
		return res
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
		res.Reason, res.Detail = "scrape_error", sc.Err().Error()
	case success == "1":
		res.OK = true
	case success == "":
		res.Reason = "no_probe_success"
	default:
		res.Reason = "probe_failed"
	}
	return res
}

// TestBlackboxModulesAgainstSimnet checks that the benchmark's blackbox
// modules are the equivalents they claim to be: against the simulated
// network's faults, the exporter's node_http and ws_upgrade modules fail
// exactly where nymwatch's probers do, and its mix_tcp module passes a
// healthy port. (Hang is left out: it costs the 5 s timeout.)
func TestBlackboxModulesAgainstSimnet(t *testing.T) {
	bin, missing := blackboxBinary()
	if missing != "" {
		t.Skip(missing)
	}
	n, targets := startSimnet(t, simnet.ListenWildcard)
	var gw simnet.NodeInfo
	for _, ni := range n.Nodes() {
		if ni.WSPort != 0 {
			gw = ni
			break
		}
	}
	byKind := nodeTargets(targets, gw.ID)
	if len(byKind) != 3 {
		t.Fatalf("gateway %d has targets %v, want node_http, mix_tcp and ws_tcp", gw.ID, slices.Collect(maps.Keys(byKind)))
	}
	bb := startBlackbox(t, bin)
	driver := newBlackboxDriver(bb.base, 4)
	defer driver.client.CloseIdleConnections()
	nw := NewMulti(ProberOptions{AllowPrivate: true})
	for _, f := range []simnet.Fault{simnet.None(), simnet.Refuse(), simnet.Garbage(), simnet.HTTP5xx(503)} {
		if err := n.SetFault(gw.ID, f); err != nil {
			t.Fatal(err)
		}
		for _, k := range []Kind{KindNodeHTTP, KindWSPort, KindMixPort} {
			tg := byKind[k]
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			want := nw.Probe(ctx, tg)
			got := driver.Probe(ctx, tg)
			cancel()
			if strings.HasPrefix(string(got.Reason), "scrape") || got.Reason == "no_probe_success" {
				t.Fatalf("fault %v, %s: scrape failed: %s %s", f.Kind, k, got.Reason, got.Detail)
			}
			if k == KindMixPort && f.Kind != simnet.KindNone {
				continue // tcp_connect does less than our mix probe; see blackboxConfig
			}
			if got.OK != want.OK {
				t.Errorf("fault %v, %s: blackbox ok=%v (%s), nymwatch ok=%v (%s %s)", f.Kind, k, got.OK, got.Reason, want.OK, want.Reason, want.Detail)
			}
		}
	}
}
