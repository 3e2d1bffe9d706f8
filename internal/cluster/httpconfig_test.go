package cluster

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	promconfig "github.com/prometheus/common/config"

	"github.com/nymwatch/nymwatch/detector"
)

// TestPullHTTPConfigCredentials: a peer whose http_config carries the
// credentials (authorization.credentials_file) needs no token; the pull
// sends the file's token, once, and never follows a redirect.
func TestPullHTTPConfigCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "peer-token")
	if err := os.WriteFile(file, []byte(clusterToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved"+ViewPath {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		if r.URL.Path != ViewPath {
			t.Errorf("followed to %q", r.URL.Path)
		}
		got = r.Header.Values("Authorization")
		_ = EncodeView(w, detector.View{Instance: "b", GeneratedAt: t0})
	}))
	defer srv.Close()
	hc := promconfig.HTTPClientConfig{Authorization: &promconfig.Authorization{Type: "Bearer", CredentialsFile: file}}
	sink := newFake("a")
	c := puller(t, sink, nil, fixedNow(t0),
		Peer{Name: "b", URL: srv.URL, HTTPConfig: &hc},
		Peer{Name: "c", URL: srv.URL + "/moved", HTTPConfig: &hc})
	c.Tick(t.Context())
	if len(got) != 1 || got[0] != "Bearer "+clusterToken {
		t.Errorf("Authorization headers %q, want the credentials file's token once", got)
	}
	if _, ok := sink.views["b"]; !ok {
		t.Errorf("no view: %v", sink.fails["b"])
	}
	if err := sink.lastFail("c"); err == nil {
		t.Error("a redirecting peer's pull succeeded")
	}

	// Without credentials anywhere the peer is refused, as before.
	src := newFake("a")
	if _, err := New(Options{Self: "a", Source: src, Sink: src,
		Peers: []Peer{{Name: "b", URL: srv.URL, HTTPConfig: &promconfig.HTTPClientConfig{}}}}); err == nil {
		t.Error("a peer with neither a token nor http_config credentials was accepted")
	}
}
