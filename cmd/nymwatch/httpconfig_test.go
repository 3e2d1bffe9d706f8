package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigHTTPConfig: check-config reaches into http_config blocks
// (unknown keys with their line, files that must exist, secrets written
// inline, a token given both ways) and never prints the secret.
func TestCheckConfigHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "outbound.yml")
	writeFile(t, filepath.Join(dir, "peer-token"), "0123456789abcdef0123\n")
	writeFile(t, p, `network:
  http_config:
    tls_config:
      ca_fille: ca.pem
pagers:
  alertmanager:
    url: https://am.example:9093
    http_config:
      basic_auth:
        username: nymwatch
        password: hunter2-hunter2
services:
  - name: s
    url: https://s.example
    http_config:
      tls_config:
        cert_file: missing.crt
        key_file: missing.key
cluster:
  name: a
  peers:
    - name: b
      url: https://b.example
      token_file: peer-token
      http_config:
        bearer_token_file: peer-token
`)
	out, err := exec.Command(binary, "check-config", "--config", p).CombinedOutput()
	ee, ok := errors.AsType[*exec.ExitError](err)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("check-config accepted a broken config (err %v):\n%s", err, out)
	}
	for _, want := range []string{
		p + `:4: network.http_config.tls_config.ca_fille: unknown key (did you mean "ca_file"?)`,
		p + ":11: pagers.alertmanager.http_config.basic_auth.password: secrets come from files",
		p + ":17: services[0].http_config.tls_config.cert_file: " + filepath.Join(dir, "missing.crt") + ": no such file",
		p + ":25: cluster.peers[0].http_config: sets credentials and so does cluster.peers[0].token_file",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "hunter2") {
		t.Errorf("check-config printed the secret:\n%s", out)
	}
}
