package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverPrint prints a config holding every kind of secret in
// every way a config gets printed, and looks for the secrets.
func TestSecretsNeverPrint(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "op", "OPERATOR-SECRET-0123456789\n")
	writeFile(t, dir, "viewer", "VIEWER-SECRET-0123456789\n")
	writeFile(t, dir, "pgpass", "PG-PASSWORD-SECRET\n")
	in := `
storage:
  driver: postgres
  dsn: "host=db.internal dbname=nymwatch sslmode=verify-full sslpassword=SSLPASS-SECRET"
  password_file: pgpass
pagers:
  alertmanager:
    url: http://am:AMPASS-SECRET@alertmanager.internal:9093
    urls: ["https://u:AMPASS2-SECRET@am2.internal/"]
  webhook:
    url: https://hooks.example.net/page?apikey=APIKEY-SECRET&team=ops
auth:
  operator_token_file: op
  viewer_token_file: viewer
services:
  - name: vpn
    url: https://user:SVCPASS-SECRET@nymvpn.example/api?token=SVCTOKEN-SECRET
`
	c, err := Parse([]byte(in), "config.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	// A config built in code can hold what a file may not: a DSN password.
	coded := *c
	coded.Storage.DSN = "postgres://nw:URLPASS-SECRET@db/nymwatch?sslpassword=URLSSL-SECRET&sslmode=require"
	kv := *c
	kv.Storage.DSN = "host=db password='KV PASS-SECRET' sslpassword = KVSSL-SECRET dbname=x"

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c, "coded", coded)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", *c, "kv", kv)
	outputs := map[string]string{"slog": logs.String()}
	for _, cfg := range []Config{*c, coded, kv} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			outputs[verb+" Config"] += fmt.Sprintf(verb, cfg)
			outputs[verb+" *Config"] += fmt.Sprintf(verb, &cfg)
			outputs[verb+" parts"] += fmt.Sprintf(verb, cfg.Storage) + fmt.Sprintf(verb, cfg.Pagers) +
				fmt.Sprintf(verb, cfg.Pagers.Alertmanager) + fmt.Sprintf(verb, cfg.Pagers.Webhook) +
				fmt.Sprintf(verb, cfg.Services) + fmt.Sprintf(verb, cfg.Auth) + fmt.Sprintf(verb, cfg.Web)
		}
		outputs["String"] += cfg.String()
	}
	for how, out := range outputs {
		if i := strings.Index(out, "SECRET"); i >= 0 {
			t.Errorf("%s shows a secret: …%s…", how, out[max(0, i-60):min(len(out), i+20)])
		}
	}
	// What is not secret stays readable.
	for _, want := range []string{"sslmode=verify-full", "host=db.internal", "alertmanager.internal:9093", "team=", "hooks.example.net"} {
		if !strings.Contains(outputs["%+v Config"], want) {
			t.Errorf("%%+v lost %q:\n%s", want, outputs["%+v Config"])
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"host=/run/postgresql dbname=nw":                    "host=/run/postgresql dbname=nw",
		"host=h sslpassword=abc dbname=nw":                  "host=h sslpassword=xxxxx dbname=nw",
		"password = 'a b\\' c' host=h":                      "password = xxxxx host=h",
		"postgres://u:p@h/db?sslpassword=s&sslmode=require": "postgres://u:xxxxx@h/db?sslmode=require&sslpassword=xxxxx",
		"postgresql://h/db?password=p":                      "postgresql://h/db?password=xxxxx",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestViewerTokenAndTrustedProxies(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "op", "OPERATOR-SECRET-0123456789\n")
	writeFile(t, dir, "same", "OPERATOR-SECRET-0123456789\n")
	writeFile(t, dir, "viewer", "VIEWER-SECRET-0123456789\n")
	c, err := Parse([]byte("auth:\n  operator_token_file: op\n  viewer_token_file: viewer\nweb:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.10, '2001:db8::/32']\n"), "c.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Auth.ViewerToken) != "VIEWER-SECRET-0123456789" {
		t.Errorf("viewer token %q", c.Auth.ViewerToken)
	}
	if got := fmt.Sprint(c.Web.TrustedProxyPrefixes()); got != "[10.0.0.0/8 192.0.2.10/32 2001:db8::/32]" {
		t.Errorf("prefixes %s", got)
	}
	for in, want := range map[string]string{
		"auth:\n  operator_token_file: op\n  viewer_token_file: same\n": "c.yaml:3: auth.viewer_token_file: holds the same token as auth.operator_token_file",
		"web:\n  trusted_proxies: [10.0.0.0/33]\n":                      `c.yaml:2: web.trusted_proxies[0]: "10.0.0.0/33" is not a CIDR or an IP address`,
		"web:\n  trusted_proxies:\n    - 10.0.0.1\n    - proxy.local\n": `c.yaml:4: web.trusted_proxies[1]: "proxy.local" is not a CIDR`,
	} {
		_, err := Parse([]byte(in), "c.yaml", dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// TestErrorsNeverShowSecrets: check-config prints errors; a bad value next
// to a secret must not print the secret.
func TestErrorsNeverShowSecrets(t *testing.T) {
	for _, in := range []string{
		"pagers:\n  alertmanager:\n    url: http://am:AMPASS-SECRET@alertmanager:99999\n",
		"pagers:\n  webhook:\n    url: ftp://hooks.example/page?apikey=APIKEY-SECRET\n",
		"storage:\n  driver: postgres\n  dsn: postgres://nw:PW-SECRET@db/x?sslpassword=SSL-SECRET\n",
		"storage:\n  driver: postgres\n  dsn: host=db password=PW-SECRET sslpassword=SSL-SECRET\n",
		"services:\n  - name: x\n    url: https://u:SVC-SECRET@\n",
	} {
		_, err := Parse([]byte(in), "c.yaml", t.TempDir())
		if err == nil {
			t.Errorf("%q parsed", in)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}
