package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeCA writes a self-signed CA certificate (PEM) to dir/name.
func writeCA(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

func TestHTTPConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good-token", testToken+"\n")
	writeFile(t, dir, "not-a-ca.pem", "hello\n")
	peer := "cluster:\n  name: a\n  peers:\n    - name: b\n      url: https://b.example\n"
	tests := []struct {
		name, in string
		want     []string
	}{
		{"unknown key inside", "network:\n  http_config:\n    tls_config:\n      ca_fil: x.pem\n", []string{
			`config.yaml:4: network.http_config.tls_config.ca_fil: unknown key (did you mean "ca_file"?)`}},
		{"unknown key in a list item", "services:\n  - name: s\n    url: https://s.example\n    http_config:\n      bearer_tokn_file: t\n", []string{
			`config.yaml:5: services[0].http_config.bearer_tokn_file: unknown key (did you mean "bearer_token_file"?)`}},
		{"not a mapping", "pagers:\n  webhook:\n    http_config: 5\n", []string{
			`config.yaml:3: pagers.webhook.http_config: must be a mapping of keys, got an integer`}},
		{"bad value", "network:\n  http_config:\n    enable_http2: maybe\n", []string{
			"config.yaml:2: network.http_config: cannot unmarshal !!str `maybe` into bool"}},
		{"prometheus validation", "network:\n  http_config:\n    bearer_token_file: a\n    authorization:\n      credentials_file: b\n", []string{
			`config.yaml:2: network.http_config: authorization is not compatible with bearer_token & bearer_token_file`}},
		{"inline password", "pagers:\n  alertmanager:\n    http_config:\n      basic_auth:\n        username: u\n        password: hunter2hunter2\n", []string{
			`config.yaml:6: pagers.alertmanager.http_config.basic_auth.password: secrets come from files, not from the config: use the matching *_file key`}},
		{"inline credentials", "network:\n  http_config:\n    authorization:\n      credentials: s3cr3t\n", []string{
			`config.yaml:4: network.http_config.authorization.credentials: secrets come from files, not from the config: use the matching *_file key`}},
		{"proxy password", "network:\n  http_config:\n    proxy_url: http://u:pw@proxy.example:3128\n", []string{
			`config.yaml:2: network.http_config.proxy_url: must not hold a password: secrets come from files, not from the config`}},
		{"follow redirects", "network:\n  http_config:\n    follow_redirects: true\n", []string{
			`config.yaml:3: network.http_config.follow_redirects: nymwatch never follows redirects (a redirect is a failure naming where it pointed)`}},
		{"missing ca file", "network:\n  http_config:\n    tls_config:\n      ca_file: nope.pem\n", []string{
			`config.yaml:4: network.http_config.tls_config.ca_file: ` + filepath.Join(dir, "nope.pem") + `: no such file or directory`}},
		{"ca file not a certificate", "network:\n  http_config:\n    tls_config:\n      ca_file: not-a-ca.pem\n", []string{
			`config.yaml:2: network.http_config: unable to use specified CA cert file ` + filepath.Join(dir, "not-a-ca.pem")}},
		{"peer token both ways", peer + "      token_file: good-token\n      http_config:\n        authorization:\n          credentials_file: good-token\n", []string{
			`config.yaml:7: cluster.peers[0].http_config: sets credentials and so does cluster.peers[0].token_file: use one of them`}},
		{"peer bearer file both ways", peer + "      token_file: good-token\n      http_config:\n        bearer_token_file: good-token\n", []string{
			`config.yaml:7: cluster.peers[0].http_config: sets credentials and so does cluster.peers[0].token_file: use one of them`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yaml", dir)
			if err == nil {
				t.Fatalf("Parse succeeded, want %q\nconfig:\n%s", tt.want, c)
			}
			if got := errStrings(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestHTTPConfigLoads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good-token", testToken+"\n")
	writeFile(t, dir, "am-password", "hunter2hunter2\n")
	ca := writeCA(t, dir, "ca.pem")
	in := `network:
  http_config:
    tls_config:
      ca_file: ca.pem
pagers:
  alertmanager:
    url: https://am.example:9093
    http_config:
      basic_auth:
        username: nymwatch
        password_file: am-password
      tls_config:
        ca_file: ca.pem
services:
  - name: s
    url: https://s.example/health
    http_config:
      proxy_url: http://proxy.example:3128
cluster:
  name: a
  peers:
    - name: b
      url: https://b.example
      http_config:
        authorization:
          credentials_file: good-token
`
	c, err := Parse([]byte(in), "config.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Network.HTTPConfig.TLSConfig.CAFile; got != ca {
		t.Errorf("network ca_file = %q, want %q (relative to the config's directory)", got, ca)
	}
	am := c.Pagers.Alertmanager.HTTPConfig
	if am.BasicAuth == nil || am.BasicAuth.PasswordFile != filepath.Join(dir, "am-password") {
		t.Errorf("alertmanager basic_auth = %+v", am.BasicAuth)
	}
	if am.FollowRedirects || !am.EnableHTTP2 {
		t.Errorf("follow_redirects %v enable_http2 %v, want false true", am.FollowRedirects, am.EnableHTTP2)
	}
	if HTTPConfigSet(&c.Pagers.Webhook.HTTPConfig) {
		t.Error("an absent webhook http_config counts as set")
	}
	if got := c.Services[0].HTTPConfig.ProxyURL.String(); got != "http://proxy.example:3128" {
		t.Errorf("service proxy_url = %q", got)
	}
	if p := c.Cluster.Peers[0]; p.TokenFile != "" || p.HTTPConfig.Authorization == nil {
		t.Errorf("peer = %+v, want credentials from http_config only", p)
	}
	// The printed config shows the blocks, never a secret, and reads back
	// to the same config.
	out := c.String()
	for _, want := range []string{"password_file: " + filepath.Join(dir, "am-password"), "ca_file: " + ca, "proxy_url: http://proxy.example:3128"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, testToken) {
		t.Errorf("printed config shows a secret:\n%s", out)
	}
	c2, err := Parse(marshal(c, false), "config.yaml", dir)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, marshal(c, false))
	}
	if a, b := string(marshal(c, false)), string(marshal(c2, false)); a != b {
		t.Errorf("round trip changed the config:\n%s\n---\n%s", a, b)
	}
}
