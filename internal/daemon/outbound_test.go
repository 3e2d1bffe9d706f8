package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/probes"
)

// testPKI is a private CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files into dir.
type testPKI struct {
	dir      string
	pool     *x509.CertPool
	server   tls.Certificate
	caFile   string
	certFile string // client
	keyFile  string // client
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nymwatch test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, ip net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := newKey(t)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		if ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srvDER, srvKey := issue("127.0.0.1", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue("nymwatch", x509.ExtKeyUsageClientAuth, nil)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.certFile = writePEM(t, dir, "client.crt", "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// server starts an HTTPS server with the PKI's server certificate; with
// mTLS it requires a client certificate signed by the CA.
func (p *testPKI) serve(t *testing.T, mTLS bool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
	if mTLS {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = p.pool
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// parseIn parses yaml as a config file in the PKI's directory (relative
// file names resolve there).
func (p *testPKI) parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), filepath.Join(p.dir, "config.yaml"), p.dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientCN is the verified client certificate's common name, or "".
func clientCN(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}

const mTLSBlock = `
      tls_config:
        ca_file: ca.pem
        cert_file: client.crt
        key_file: client.key`

// TestAlertmanagerPagerMTLS: with pagers.alertmanager.http_config, pages
// reach an Alertmanager that requires a client certificate from a private
// CA; without it, the same Alertmanager refuses the connection.
func TestAlertmanagerPagerMTLS(t *testing.T) {
	pki := newTestPKI(t)
	var got atomic.Value
	am := pki.serve(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path + " from " + clientCN(r))
		w.WriteHeader(http.StatusOK)
	}))
	pg := page.Page{Key: "i/page/1", IncidentID: "i", Labels: map[string]string{"alertname": "NymwatchIncident"},
		StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}

	cfg := pki.parse(t, "pagers:\n  alertmanager:\n    url: "+am.URL+"\n    http_config:"+mTLSBlock+"\n")
	pagers, err := buildPagers(cfg)
	if err != nil || len(pagers) != 1 {
		t.Fatalf("buildPagers: %v, %d pagers", err, len(pagers))
	}
	if err := pagers[0].Send(t.Context(), pg); err != nil {
		t.Fatalf("Send with a client certificate: %v", err)
	}
	if s, _ := got.Load().(string); s != "POST /api/v2/alerts from nymwatch" {
		t.Errorf("alertmanager saw %q", s)
	}

	got.Store("")
	plain := pki.parse(t, "pagers:\n  alertmanager:\n    url: "+am.URL+"\n")
	pagers, err = buildPagers(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := pagers[0].Send(t.Context(), pg); err == nil {
		t.Error("Send without http_config succeeded against an mTLS Alertmanager with a private CA")
	}
	if s, _ := got.Load().(string); s != "" {
		t.Errorf("alertmanager served %q without a client certificate", s)
	}
}

// TestDirectoryMTLS: network.http_config gives the directory fetch the
// client certificate nym-api (behind an mTLS proxy) asks for.
func TestDirectoryMTLS(t *testing.T) {
	pki := newTestPKI(t)
	var got atomic.Value
	api := pki.serve(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cn := clientCN(r); cn != "" {
			got.Store(cn)
		}
		http.NotFound(w, r) // not retried: the fetch ends at once
	}))
	cfg := pki.parse(t, "network:\n  nym_api_url: "+api.URL+"/api\n  http_config:"+strings.ReplaceAll(mTLSBlock, "\n  ", "\n")+"\n")
	c, err := newDirectoryClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(t.Context())
	if s, _ := got.Load().(string); s != "nymwatch" {
		t.Fatalf("nym-api saw client %q (fetch error %v)", s, err)
	}
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("fetch error = %v, want the 404 (the TLS handshake succeeded)", err)
	}
}

// TestServicePrivateCA: a service whose certificate comes from a private
// CA is healthy with services[].http_config.tls_config.ca_file and a
// security-relevant TLS failure without it; with http_config a redirect
// is still a failure, never followed.
func TestServicePrivateCA(t *testing.T) {
	pki := newTestPKI(t)
	var followed atomic.Bool
	svc := pki.serve(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			followed.Store(true)
		}
	}))
	cfg := pki.parse(t, `services:
  - name: private
    url: `+svc.URL+`/health
    http_config:
      tls_config:
        ca_file: ca.pem
  - name: moved
    url: `+svc.URL+`/moved
    http_config:
      tls_config:
        ca_file: ca.pem
  - name: untrusted
    url: `+svc.URL+`/health
`)
	out, err := buildOutbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	services, _ := serviceTargets(cfg)
	out.withClients(cfg, services)
	prober := probes.NewServiceProber(proberOptions(cfg))
	results := map[string]probes.Result{}
	for i := range services {
		s := &services[i]
		results[s.Name] = prober.Probe(t.Context(), &probes.Target{ID: "service/" + s.Name, Kind: probes.KindService, Address: s.URL, Service: s})
	}
	if r := results["private"]; !r.OK {
		t.Errorf("private-CA service with ca_file: %s %s", r.Reason, r.Detail)
	}
	if r := results["untrusted"]; r.OK || r.Reason != probes.ReasonTLSUntrusted {
		t.Errorf("private-CA service without http_config: ok=%v reason %q, want %q", r.OK, r.Reason, probes.ReasonTLSUntrusted)
	}
	if r := results["moved"]; r.OK || r.Reason != probes.ReasonRedirect || !strings.Contains(r.Detail, "/elsewhere") {
		t.Errorf("redirecting service: ok=%v reason %q detail %q, want a redirect failure naming /elsewhere", r.OK, r.Reason, r.Detail)
	}
	if followed.Load() {
		t.Error("the redirect was followed")
	}
	// A reload's config gets its own clients: the old set gives none.
	other := *cfg
	fresh, _ := serviceTargets(&other)
	out.withClients(&other, fresh)
	if fresh[0].Client != nil {
		t.Error("clients of one config were given to another")
	}
}

// TestWebhookPagerCredentialsFile: pagers.webhook.http_config's
// authorization.credentials_file is sent as the bearer token, read from
// the file (so a rotated file takes effect without a reload).
func TestWebhookPagerCredentialsFile(t *testing.T) {
	pki := newTestPKI(t)
	tokenFile := filepath.Join(pki.dir, "webhook-out-token")
	if err := os.WriteFile(tokenFile, []byte("first-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var auth atomic.Value
	hook := pki.serve(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	cfg := pki.parse(t, "pagers:\n  webhook:\n    url: "+hook.URL+"/hook\n    http_config:\n      tls_config:\n        ca_file: ca.pem\n      authorization:\n        credentials_file: webhook-out-token\n")
	pagers, err := buildPagers(cfg)
	if err != nil || len(pagers) != 1 {
		t.Fatalf("buildPagers: %v, %d pagers", err, len(pagers))
	}
	pg := page.Page{Key: "i/page/1", IncidentID: "i", Labels: map[string]string{"alertname": "NymwatchIncident"},
		StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}
	for _, tok := range []string{"first-token-0123456789", "second-token-0123456789"} {
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := pagers[0].Send(t.Context(), pg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got, _ := auth.Load().(string); got != "Bearer "+tok {
			t.Errorf("Authorization = %q, want the file's current token %q", got, tok)
		}
	}
}
