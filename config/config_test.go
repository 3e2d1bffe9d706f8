package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

const (
	testToken  = "s3cr3t-operator-token-0123456789"
	testToken2 = "s3cr3t-webhook-token-9876543210"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// errStrings returns each problem of err as its FILE:LINE: key: msg text.
func errStrings(err error) []string {
	var out []string
	for _, e := range Errors(err) {
		out = append(out, e.Error())
	}
	return out
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen", c.Listen, "127.0.0.1:9478"},
		{"storage.driver", c.Storage.Driver, "sqlite"},
		{"storage.path", c.Storage.Path, "/var/lib/nymwatch/nymwatch.db"},
		{"network.nym_api_url", c.Network.NymAPIURL, "https://validator.nymtech.net/api"},
		{"network.refresh_interval", c.Network.RefreshInterval, 5 * time.Minute},
		{"probes.interval", c.Probes.Interval, 30 * time.Second},
		{"probes.timeout", c.Probes.Timeout, 5 * time.Second},
		{"probes.concurrency", c.Probes.Concurrency, 256},
		{"probes.failure_threshold", c.Probes.FailureThreshold, 3},
		{"probes.recovery_threshold", c.Probes.RecoveryThreshold, 2},
		{"probes.per_target_metrics", c.Probes.PerTargetMetrics, false},
		{"classification.gateway_failure_ratio", c.Classification.GatewayFailureRatio, 0.10},
		{"classification.min_failing_gateways", c.Classification.MinFailingGateways, 2},
		{"classification.mixnode_failure_ratio", c.Classification.MixnodeFailureRatio, 0.25},
		{"classification.country_failure_ratio", c.Classification.CountryFailureRatio, 0.5},
		{"classification.country_min_nodes", c.Classification.CountryMinNodes, 3},
		{"classification.service_failure_for", c.Classification.ServiceFailureFor, time.Duration(0)},
		{"classification.degradation.success_ratio_drop", c.Classification.Degradation.SuccessRatioDrop, 0.2},
		{"classification.degradation.latency_factor", c.Classification.Degradation.LatencyFactor, 3.0},
		{"classification.degradation.sustain", c.Classification.Degradation.Sustain, 5 * time.Minute},
		{"classification.degradation.baseline_window", c.Classification.Degradation.BaselineWindow, time.Hour},
		{"classification.vantage.control_failure_ratio", c.Classification.Vantage.ControlFailureRatio, 0.5},
		{"classification.vantage.network_failure_ratio", c.Classification.Vantage.NetworkFailureRatio, 0.8},
		{"classification.flapping.window", c.Classification.Flapping.Window, 10 * time.Minute},
		{"classification.flapping.transitions", c.Classification.Flapping.Transitions, 4},
		{"classification.grouping_window", c.Classification.GroupingWindow, 10 * time.Minute},
		{"classification.default_alert_class", c.Classification.DefaultAlertClass, "operational"},
		{"pagers.alertmanager.resend_interval", c.Pagers.Alertmanager.ResendInterval, time.Minute},
		{"pagers.alertmanager.timeout", c.Pagers.Alertmanager.Timeout, 10 * time.Second},
		{"pagers.escalation", c.Pagers.Escalation, []time.Duration{15 * time.Minute, time.Hour}},
		{"pagers.outbox_max_age", c.Pagers.OutboxMaxAge, 24 * time.Hour},
		{"cluster.quorum", c.Cluster.Quorum, 1},
		{"alertmanager urls", c.AlertmanagerURLs(), []string(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	// Default returns a fresh value each time: no shared mutable state.
	c.Pagers.Escalation[0] = time.Second
	if Default().Pagers.Escalation[0] != 15*time.Minute {
		t.Error("Default() shares its escalation slice between calls")
	}
}

// TestEmptyIsDefault: a file that sets nothing gives Default().
func TestEmptyIsDefault(t *testing.T) {
	want := Default().String()
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "{}\n", "probes:\n", "probes: ~\nservices:\n"} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			c, err := Parse([]byte(in), "config.yaml", t.TempDir())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.String(); got != want {
				t.Errorf("String() =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("Load(example.yaml): %v", err)
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Auth.OperatorTokenFile, filepath.Join(dir, "example-operator-token"); got != want {
		t.Errorf("operator_token_file = %q, want %q", got, want)
	}
	if !strings.HasPrefix(string(c.Auth.OperatorToken), "EXAMPLE-ONLY-") || !strings.HasPrefix(string(c.Auth.WebhookToken), "EXAMPLE-ONLY-") {
		t.Errorf("example tokens not loaded: %q %q", c.Auth.OperatorToken, c.Auth.WebhookToken)
	}
	if len(c.Services) != 3 || c.Services[2].Kind != ServiceKindHTTP || c.Services[1].Kind != ServiceKindNymVPNAPI {
		t.Errorf("services = %+v", c.Services)
	}
	if got := c.AlertmanagerURLs(); !reflect.DeepEqual(got, []string{"http://127.0.0.1:9093"}) {
		t.Errorf("AlertmanagerURLs() = %v", got)
	}
	// Everything the example shows as a default must be the default: take
	// the example, put back what it sets on purpose, compare with Default.
	d := Default()
	d.Network.StagingNodes = c.Network.StagingNodes
	d.Services = c.Services
	d.ControlTargets = c.ControlTargets
	d.Classification.Rules = c.Classification.Rules
	d.Pagers.Alertmanager.URL = c.Pagers.Alertmanager.URL
	d.Auth = c.Auth
	if got, want := c.String(), d.String(); got != want {
		t.Errorf("example.yaml documents a value that is not the default:\n%s\nwant\n%s", got, want)
	}
}

// leafKeys lists the dotted keys of the Config type (lists as key[]).
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := joinKey(prefix, name)
		ft := f.Type
		switch {
		case ft == httpClientConfigType: // documented as one key, as in Prometheus
			out = append(out, key)
		case ft.Kind() == reflect.Struct:
			out = append(out, leafKeys(ft, key)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, leafKeys(ft.Elem(), key+"[]")...)
		default:
			out = append(out, key)
		}
	}
	return out
}

// TestEveryKeyDocumented keeps example.yaml and the configuration reference
// (docs/configuration.md) complete.
func TestEveryKeyDocumented(t *testing.T) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := leafKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 50 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			if !strings.Contains(string(ref), "`"+k+"`") && !strings.Contains(string(ref), "`"+k+"[]`") {
				t.Errorf("docs/configuration.md does not document `%s`", k)
			}
			last := k[strings.LastIndexAny(k, ".]")+1:]
			if !strings.Contains(string(example), " "+last+":") && !strings.Contains(string(example), "\n"+last+":") {
				t.Errorf("example.yaml does not show %s", k)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty-token", " \n\t\n")
	writeFile(t, dir, "short-token", "abc\n")
	writeFile(t, dir, "spaced-token", "abcdefgh ijklmnopqrstu\n")
	writeFile(t, dir, "good-token", testToken+"\n")
	if err := os.Mkdir(filepath.Join(dir, "a-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"bad duration", "probes:\n  interval: 3x\n", []string{
			`config.yaml:2: probes.interval: "3x" is not a duration`}},
		{"duration without unit", "network:\n  refresh_interval: 30\n", []string{
			`config.yaml:2: network.refresh_interval: "30" is not a duration`}},
		{"duration as mapping", "probes:\n  timeout: {a: 1}\n", []string{
			`config.yaml:2: probes.timeout: must be a duration, got a mapping`}},
		{"unknown top-level key", "listen: 127.0.0.1:1\nlog_level: debug\n", []string{
			`config.yaml:2: log_level: unknown key`}},
		{"unknown nested key with suggestion", "probes:\n  intervall: 5s\n", []string{
			`config.yaml:2: probes.intervall: unknown key (did you mean "interval"?)`}},
		{"unknown key in list item", "services:\n  - name: a\n    url: http://a.example\n    kinds: http\n", []string{
			`config.yaml:4: services[0].kinds: unknown key (did you mean "kind"?)`}},
		{"duplicate key", "probes:\n  interval: 15s\n  interval: 16s\n", []string{
			`config.yaml:3: probes.interval: duplicate key (first on line 2)`}},
		{"wrong type int", "probes:\n  concurrency: lots\n", []string{
			`config.yaml:2: probes.concurrency: "lots" is not an integer`}},
		{"quoted int", "probes:\n  concurrency: \"8\"\n", []string{
			`config.yaml:2: probes.concurrency: "8" is not an integer`}},
		{"float for int", "probes:\n  failure_threshold: 2.5\n", []string{
			`config.yaml:2: probes.failure_threshold: "2.5" is not an integer`}},
		{"wrong type bool", "probes:\n  per_target_metrics: yes\n", []string{
			`config.yaml:2: probes.per_target_metrics: "yes" is not a boolean (want true or false)`}},
		{"web public read not a bool", "web:\n  public_read: sometimes\n", []string{
			`config.yaml:2: web.public_read: "sometimes" is not a boolean (want true or false)`}},
		{"wrong type float", "classification:\n  gateway_failure_ratio: ten percent\n", []string{
			`config.yaml:2: classification.gateway_failure_ratio: "ten percent" is not a number`}},
		{"nan", "classification:\n  degradation:\n    latency_factor: .nan\n", []string{
			`config.yaml:3: classification.degradation.latency_factor: must be a finite number, got .nan`}},
		{"list expected", "control_targets: https://a.example\n", []string{
			`config.yaml:1: control_targets: must be a list, got a string`}},
		{"mapping expected", "probes: fast\n", []string{
			`config.yaml:1: probes: must be a mapping of keys, got a string`}},
		{"string expected", "listen: [a, b]\n", []string{
			`config.yaml:1: listen: must be a string, got a list`}},
		{"empty list item", "control_targets:\n  -\n  - tcp://a.example:1\n", []string{
			`config.yaml:2: control_targets[0]: empty list item`}},
		{"top level not a mapping", "- a\n- b\n", []string{
			`config.yaml:1: the top level must be a mapping of keys, got a list`}},
		{"yaml syntax", "probes:\n  interval: 5s\n timeout: 1s\n", []string{
			`config.yaml:2: invalid YAML: did not find expected key`}},
		{"two documents", "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n", []string{
			`config.yaml:2: the file holds more than one YAML document`}},
		{"missing token file", "auth:\n  operator_token_file: nope\n", []string{
			fmt.Sprintf(`config.yaml:2: auth.operator_token_file: cannot read %s: no such file or directory`, filepath.Join(dir, "nope"))}},
		{"empty token file", "auth:\n  webhook_token_file: empty-token\n", []string{
			fmt.Sprintf(`config.yaml:2: auth.webhook_token_file: %s is empty`, filepath.Join(dir, "empty-token"))}},
		{"short token", "auth:\n  operator_token_file: short-token\n", []string{
			fmt.Sprintf(`config.yaml:2: auth.operator_token_file: the token in %s is shorter than 16 characters`, filepath.Join(dir, "short-token"))}},
		{"token with space", "auth:\n  operator_token_file: spaced-token\n", []string{
			fmt.Sprintf(`config.yaml:2: auth.operator_token_file: the token in %s contains whitespace`, filepath.Join(dir, "spaced-token"))}},
		{"token file is a directory", "auth:\n  operator_token_file: a-dir\n", []string{
			fmt.Sprintf(`config.yaml:2: auth.operator_token_file: %s is not a regular file`, filepath.Join(dir, "a-dir"))}},
		{"same token twice", "auth:\n  operator_token_file: good-token\n  webhook_token_file: ./good-token\n", []string{
			`config.yaml:3: auth.webhook_token_file: holds the same token as auth.operator_token_file; use two different tokens`}},
		{"url without scheme", "network:\n  nym_api_url: validator.nymtech.net/api\n", []string{
			`config.yaml:2: network.nym_api_url: "validator.nymtech.net/api" is not an absolute URL (want http:// or https://)`}},
		{"url host:port without scheme", "pagers:\n  webhook:\n    url: localhost:8080\n", []string{
			`config.yaml:3: pagers.webhook.url: "localhost:8080" is not an absolute URL (want http:// or https://)`}},
		{"url without host", "services:\n  - name: a\n    url: \"http://\"\n", []string{
			`config.yaml:3: services[0].url: "http://" has no host`}},
		{"url unsupported scheme", "pagers:\n  alertmanager:\n    url: ftp://am.example\n", []string{
			`config.yaml:3: pagers.alertmanager.url: "ftp://am.example": unsupported scheme "ftp" (want http or https)`}},
		{"url bad port", "web:\n  external_url: http://a.example:99999/\n", []string{
			`config.yaml:2: web.external_url: "http://a.example:99999/": port "99999" is not a number from 1 to 65535`}},
		{"url password redacted in error", "pagers:\n  alertmanager:\n    urls: [\"gopher://u:hunter2@am.example\"]\n", []string{
			`config.yaml:3: pagers.alertmanager.urls[0]: "gopher://u:xxxxx@am.example": unsupported scheme "gopher" (want http or https)`}},
		{"identity interval below probe interval", "probes:\n  interval: 1m\n  identity_interval: 30s\n", []string{
			`config.yaml:3: probes.identity_interval: probes.identity_interval (30s) must be at least probes.interval (1m)`}},
		{"default identity interval below probe interval", "probes:\n  interval: 10m\n  timeout: 5s\n", []string{
			`config.yaml:2: probes.interval: probes.identity_interval (5m) must be at least probes.interval (10m)`}},
		{"identity interval not a duration", "probes:\n  identity_interval: often\n", []string{
			`config.yaml:2: probes.identity_interval: "often" is not a duration`}},
		{"allow private not a bool", "network:\n  allow_private_addresses: maybe\n", []string{
			`config.yaml:2: network.allow_private_addresses: "maybe" is not a boolean (want true or false)`}},
		{"bad tls pin", "services:\n  - name: a\n    url: https://a.example\n    tls_pin_sha256:\n      - 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n      - sha256//nope\n", []string{
			`config.yaml:6: services[0].tls_pin_sha256[1]: "sha256//nope" is not a base64 SHA-256 public key hash (44 characters, as curl --pinnedpubkey sha256//...)`}},
		{"tls pin on http", "services:\n  - name: a\n    url: http://a.example\n    tls_pin_sha256: [47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=]\n", []string{
			`config.yaml:4: services[0].tls_pin_sha256: pins need an https url`}},
		{"tcp control target without port", "control_targets:\n  - tcp://1.1.1.1\n", []string{
			`config.yaml:2: control_targets[0]: "tcp://1.1.1.1": a tcp target needs host:port`}},
		{"tcp control target with path", "control_targets:\n  - tcp://1.1.1.1:443/x\n", []string{
			`config.yaml:2: control_targets[0]: "tcp://1.1.1.1:443/x": a tcp target is only tcp://host:port`}},
		{"tcp not allowed for services", "services:\n  - name: a\n    url: tcp://1.1.1.1:443\n", []string{
			`config.yaml:3: services[0].url: "tcp://1.1.1.1:443": unsupported scheme "tcp" (want http or https)`}},
		{"udp control target", "control_targets:\n  - udp://1.1.1.1:53\n", []string{
			`config.yaml:2: control_targets[0]: "udp://1.1.1.1:53": unsupported scheme "udp" (want http, https or tcp)`}},
		{"duplicate control target", "control_targets:\n  - tcp://1.1.1.1:443\n  - tcp://1.1.1.1:443\n", []string{
			`config.yaml:3: control_targets[1]: duplicate control target (first on line 2)`}},
		{"negative threshold", "probes:\n  failure_threshold: -1\n", []string{
			`config.yaml:2: probes.failure_threshold: must be at least 1, got -1`}},
		{"zero concurrency", "probes:\n  concurrency: 0\n", []string{
			`config.yaml:2: probes.concurrency: must be from 1 to 65536, got 0`}},
		{"negative duration", "classification:\n  grouping_window: -5m\n", []string{
			`config.yaml:2: classification.grouping_window: must not be negative, got -5m`}},
		{"zero latency threshold", "services:\n  - name: a\n    url: https://a.example\n    latency_threshold: 0s\n", []string{
			`config.yaml:4: services[0].latency_threshold: must be greater than 0, got 0s`}},
		{"ratio above 1", "classification:\n  gateway_failure_ratio: 1.5\n", []string{
			`config.yaml:2: classification.gateway_failure_ratio: must be in (0, 1], got 1.5`}},
		{"ratio zero", "classification:\n  vantage:\n    control_failure_ratio: 0\n", []string{
			`config.yaml:3: classification.vantage.control_failure_ratio: must be in (0, 1], got 0`}},
		{"ratio negative", "classification:\n  degradation:\n    success_ratio_drop: -0.1\n", []string{
			`config.yaml:3: classification.degradation.success_ratio_drop: must be in (0, 1], got -0.1`}},
		{"ratio exactly 1 is fine plus latency factor 1", "classification:\n  mixnode_failure_ratio: 1\n  degradation:\n    latency_factor: 1\n", []string{
			`config.yaml:4: classification.degradation.latency_factor: must be greater than 1, got 1`}},
		{"baseline not longer than sustain", "classification:\n  degradation:\n    sustain: 1h\n", []string{
			`config.yaml:3: classification.degradation.baseline_window: classification.degradation.baseline_window (1h) must be longer than classification.degradation.sustain (1h)`}},
		{"too few flapping transitions", "classification:\n  flapping:\n    transitions: 1\n", []string{
			`config.yaml:3: classification.flapping.transitions: must be at least 2, got 1`}},
		{"interval too short", "probes:\n  interval: 500ms\n", []string{
			`config.yaml:2: probes.interval: must be at least 1s, got 500ms`}},
		{"timeout too short", "probes:\n  timeout: 50ms\n", []string{
			`config.yaml:2: probes.timeout: must be at least 100ms, got 50ms`}},
		{"timeout equals interval", "probes:\n  interval: 5s\n  timeout: 5s\n", []string{
			`config.yaml:3: probes.timeout: probes.timeout (5s) must be less than probes.interval (5s)`}},
		{"default timeout above short interval", "probes:\n  interval: 2s\n", []string{
			`config.yaml:2: probes.interval: probes.timeout (5s) must be less than probes.interval (2s)`}},
		{"refresh too short", "network:\n  refresh_interval: 1s\n", []string{
			`config.yaml:2: network.refresh_interval: must be at least 5s, got 1s`}},
		{"bad staging node", "network:\n  staging_nodes: [12, not-a-key, 4294967296]\n", []string{
			`config.yaml:2: network.staging_nodes[1]: "not-a-key" is neither a node id nor a base58 identity key`,
			`config.yaml:2: network.staging_nodes[2]: "4294967296" is neither a node id nor a base58 identity key`}},
		{"bad source address", "probes:\n  source_address: 10.0.0.300\n", []string{
			`config.yaml:2: probes.source_address: "10.0.0.300" is not an IP address`}},
		{"duplicate service names", "services:\n  - name: api\n    url: https://a.example\n  - name: api\n    url: https://b.example\n", []string{
			`config.yaml:4: services[1].name: duplicate service name "api" (first on line 2)`}},
		{"service missing name and url", "services:\n  - kind: http\n", []string{
			`config.yaml:2: services[0].name: is required`,
			`config.yaml:2: services[0].url: is required`}},
		{"service bad name", "services:\n  - name: my api\n    url: https://a.example\n", []string{
			`config.yaml:2: services[0].name: "my api" is not a valid name (letters, digits, '.', '_', '-'; at most 64)`}},
		{"service bad kind", "services:\n  - name: a\n    url: https://a.example\n    kind: grpc\n", []string{
			`config.yaml:4: services[0].kind: unknown kind "grpc" (want nym-api, nymvpn-api or http)`}},
		{"invalid default class", "classification:\n  default_alert_class: urgent\n", []string{
			`config.yaml:2: classification.default_alert_class: invalid class "urgent" (want security, operational or internal)`}},
		{"invalid rule class", "classification:\n  rules:\n    - matchers: {a: b}\n      class: Security\n", []string{
			`config.yaml:4: classification.rules[0].class: invalid class "Security" (want security, operational or internal)`}},
		{"rule without matchers or class", "classification:\n  rules:\n    - matchers: {}\n", []string{
			`config.yaml:3: classification.rules[0].matchers: a rule needs at least one matcher`,
			`config.yaml:3: classification.rules[0].class: is required`}},
		{"rule bad regex", "classification:\n  rules:\n    - matchers:\n        alertname: \"=~Nym(\"\n      class: security\n", []string{
			"config.yaml:4: classification.rules[0].matchers.alertname: invalid regular expression \"Nym(\": error parsing regexp: missing closing ): `Nym(`"}},
		{"rule matcher null", "classification:\n  rules:\n    - matchers:\n        alertname:\n      class: security\n", []string{
			`config.yaml:4: classification.rules[0].matchers.alertname: missing value`}},
		{"listen without port", "listen: \"9478\"\n", []string{
			`config.yaml:1: listen: "9478" is not host:port (e.g. 127.0.0.1:9478)`}},
		{"listen bad port", "listen: localhost:http\n", []string{
			`config.yaml:1: listen: "localhost:http": port "http" is not a number from 0 to 65535`}},
		{"unknown driver", "storage:\n  driver: mysql\n", []string{
			`config.yaml:2: storage.driver: unknown driver "mysql" (want sqlite or postgres)`}},
		{"dsn with sqlite", "storage:\n  dsn: host=db\n", []string{
			`config.yaml:2: storage.dsn: only used with driver postgres (storage.driver is sqlite)`}},
		{"postgres without dsn", "storage:\n  driver: postgres\n", []string{
			`config.yaml:2: storage.dsn: is required with driver postgres`}},
		{"postgres dsn with password", "storage:\n  driver: postgres\n  dsn: postgres://u:pw@db/nymwatch\n", []string{
			`config.yaml:3: storage.dsn: must not contain a password; put it in storage.password_file`}},
		{"postgres kv dsn with password", "storage:\n  driver: postgres\n  dsn: host=db password=pw\n", []string{
			`config.yaml:3: storage.dsn: must not contain a password; put it in storage.password_file`}},
		{"postgres dsn garbage", "storage:\n  driver: postgres\n  dsn: db.example\n", []string{
			`config.yaml:3: storage.dsn: is neither a postgres:// URL nor key=value pairs (e.g. host=/run/postgresql dbname=nymwatch)`}},
		{"escalation not increasing", "pagers:\n  escalation: [1h, 30m]\n", []string{
			`config.yaml:2: pagers.escalation[1]: must be longer than the step before it (1h), got 30m`}},
		{"resend too short", "pagers:\n  alertmanager:\n    resend_interval: 10ms\n", []string{
			`config.yaml:3: pagers.alertmanager.resend_interval: must be at least 1s, got 10ms`}},
		{"external url with query", "web:\n  external_url: https://a.example/?x=1\n", []string{
			`config.yaml:2: web.external_url: must not have a query or fragment`}},
		{"cluster peers without name", "cluster:\n  peers:\n    - name: b\n      url: https://b.example\n      token_file: good-token\n", []string{
			`config.yaml:2: cluster.name: is required when cluster.peers is set`}},
		{"cluster peer problems", "cluster:\n  name: a\n  quorum: 3\n  peers:\n    - name: a\n      url: b.example\n", []string{
			`config.yaml:3: cluster.quorum: must be from 1 to 2 (this instance and 1 peers), got 3`,
			`config.yaml:5: cluster.peers[0].name: "a" is this instance's own cluster.name`,
			`config.yaml:5: cluster.peers[0].token_file: is required: peers authenticate each other`,
			`config.yaml:6: cluster.peers[0].url: "b.example" is not an absolute URL (want http:// or https://)`}},
		{"bad merge value", "probes:\n  <<: 5\n", []string{
			`config.yaml:2: probes: a merge key (<<) takes a mapping or a list of mappings, got an integer`}},
		{"unknown anchor", "probes: *nope\n", []string{
			`config.yaml: invalid YAML: unknown anchor 'nope' referenced`}},
		{"non-string key", "probes:\n  [a]: 1\n", []string{
			`config.yaml:2: probes: a key must be a string, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yaml", dir)
			if err == nil {
				t.Fatalf("Parse succeeded, want %q\nconfig:\n%s", tt.want, c)
			}
			if c != nil {
				t.Error("Parse returned a config along with an error")
			}
			if got := errStrings(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tok", testToken)
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, c *Config)
	}{
		{"prometheus durations", "probes:\n  interval: 1m30s\n  timeout: 1500ms\nnetwork:\n  refresh_interval: 1d\npagers:\n  outbox_max_age: 2w\n", func(t *testing.T, c *Config) {
			if c.Probes.Interval != 90*time.Second || c.Probes.Timeout != 1500*time.Millisecond ||
				c.Network.RefreshInterval != 24*time.Hour || c.Pagers.OutboxMaxAge != 14*24*time.Hour {
				t.Errorf("got %v %v %v %v", c.Probes.Interval, c.Probes.Timeout, c.Network.RefreshInterval, c.Pagers.OutboxMaxAge)
			}
		}},
		{"go durations", "probes:\n  interval: 1.5s\n  timeout: 250000us\n", func(t *testing.T, c *Config) {
			if c.Probes.Interval != 1500*time.Millisecond || c.Probes.Timeout != 250*time.Millisecond {
				t.Errorf("got %v %v", c.Probes.Interval, c.Probes.Timeout)
			}
		}},
		{"minimums accepted", "probes:\n  interval: 1s\n  timeout: 100ms\nnetwork:\n  refresh_interval: 5s\n", func(t *testing.T, c *Config) {
			if c.Probes.Interval != time.Second || c.Probes.Timeout != 100*time.Millisecond || c.Network.RefreshInterval != 5*time.Second {
				t.Errorf("got %v %v %v", c.Probes.Interval, c.Probes.Timeout, c.Network.RefreshInterval)
			}
		}},
		{"empty escalation disables", "pagers:\n  escalation: []\n", func(t *testing.T, c *Config) {
			if len(c.Pagers.Escalation) != 0 {
				t.Errorf("escalation = %v", c.Pagers.Escalation)
			}
		}},
		{"service defaults per item", "services:\n  - name: a\n    url: https://a.example\n  - name: b\n    url: https://b.example\n    kind: nym-api\n    latency_threshold: 500ms\n    staging: true\n", func(t *testing.T, c *Config) {
			want := []Service{
				{Name: "a", URL: "https://a.example", Kind: "http", LatencyThreshold: 2 * time.Second},
				{Name: "b", URL: "https://b.example", Kind: "nym-api", LatencyThreshold: 500 * time.Millisecond, Staging: true},
			}
			if !reflect.DeepEqual(c.Services, want) {
				t.Errorf("services = %+v", c.Services)
			}
		}},
		{"staging nodes as ints and keys", "network:\n  staging_nodes:\n    - 1399\n    - \"2210\"\n    - EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus\n", func(t *testing.T, c *Config) {
			want := []string{"1399", "2210", "EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus"}
			if !reflect.DeepEqual(c.Network.StagingNodes, want) {
				t.Errorf("staging_nodes = %q", c.Network.StagingNodes)
			}
		}},
		{"anchors and merge keys", "x-svc: &svc\n  kind: nym-api\n  latency_threshold: 3s\n", nil}, // replaced below
		{"postgres", "storage:\n  driver: postgres\n  dsn: postgresql://nymwatch@db.example/nymwatch?sslmode=verify-full\n  password_file: tok\n", func(t *testing.T, c *Config) {
			if c.Storage.Password != testToken || c.Storage.PasswordFile != filepath.Join(dir, "tok") {
				t.Errorf("storage = %+v", c.Storage)
			}
		}},
		{"postgres kv dsn", "storage:\n  driver: postgres\n  dsn: host=/run/postgresql dbname=nymwatch passfile=/x\n", nil},
		{"listen on all interfaces", "listen: \":9478\"\nauth:\n  webhook_token_file: tok\n", func(t *testing.T, c *Config) {
			if c.Listen != ":9478" {
				t.Errorf("listen = %q", c.Listen)
			}
		}},
		{"listen ipv6", "listen: \"[::1]:9478\"\n", nil},
		{"source address v6", "probes:\n  source_address: 2001:db8::1\n", nil},
		{"cluster default quorum", "cluster:\n  name: a\n  peers:\n    - {name: b, url: https://b.example, token_file: tok}\n    - {name: c, url: https://c.example, token_file: tok}\n    - {name: d, url: https://d.example, token_file: tok}\n", func(t *testing.T, c *Config) {
			if c.Cluster.Quorum != 3 {
				t.Errorf("quorum = %d, want 3 (majority of 4)", c.Cluster.Quorum)
			}
			if c.Cluster.Peers[2].Token != testToken {
				t.Errorf("peer token not loaded")
			}
		}},
		{"cluster explicit quorum", "cluster:\n  name: a\n  quorum: 1\n  peers:\n    - {name: b, url: https://b.example, token_file: tok}\n", func(t *testing.T, c *Config) {
			if c.Cluster.Quorum != 1 {
				t.Errorf("quorum = %d", c.Cluster.Quorum)
			}
		}},
		{"ratios at 1", "classification:\n  gateway_failure_ratio: 1\n  vantage:\n    network_failure_ratio: 1.0\n", nil},
		{"alertmanager url and urls merged", "pagers:\n  alertmanager:\n    url: http://am1.example:9093\n    urls:\n      - http://am1.example:9093/\n      - http://AM2.example:9093\n      - http://am2.example:9093\n      - http://am3.example:9093\n", func(t *testing.T, c *Config) {
			want := []string{"http://am1.example:9093", "http://AM2.example:9093", "http://am3.example:9093"}
			if got := c.AlertmanagerURLs(); !reflect.DeepEqual(got, want) {
				t.Errorf("AlertmanagerURLs() = %v, want %v", got, want)
			}
		}},
		{"alertmanager urls only", "pagers:\n  alertmanager:\n    urls: [http://am1.example:9093]\n", func(t *testing.T, c *Config) {
			if got := c.AlertmanagerURLs(); !reflect.DeepEqual(got, []string{"http://am1.example:9093"}) {
				t.Errorf("AlertmanagerURLs() = %v", got)
			}
		}},
		{"web public read", "web:\n  public_read: true\n", func(t *testing.T, c *Config) {
			if !c.Web.PublicRead {
				t.Error("web.public_read = false, want true")
			}
		}},
	}
	// Anchors, aliases and merge keys work like in any YAML file.
	tests[6].in = "services:\n  - &base\n    name: a\n    url: https://a.example\n    kind: nym-api\n    latency_threshold: 3s\n  - <<: *base\n    name: b\n  - <<: [*base]\n    name: c\n    kind: http\ncontrol_targets: &ct [tcp://1.1.1.1:443]\n"
	tests[6].check = func(t *testing.T, c *Config) {
		if len(c.Services) != 3 {
			t.Fatalf("services = %+v", c.Services)
		}
		b, cc := c.Services[1], c.Services[2]
		if b.Name != "b" || b.URL != "https://a.example" || b.Kind != "nym-api" || b.LatencyThreshold != 3*time.Second {
			t.Errorf("merged service b = %+v", b)
		}
		if cc.Name != "c" || cc.Kind != "http" || cc.LatencyThreshold != 3*time.Second {
			t.Errorf("merged service c = %+v", cc)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yaml", dir)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestManyErrors: all problems are reported, in line order, each an *Error.
func TestManyErrors(t *testing.T) {
	in := `listen: nowhere
probes:
  interval: 3x
  timeout: 10ms
  bogus: true
services:
  - name: api
    url: https://api.example
  - name: api
    url: example.com
classification:
  gateway_failure_ratio: 2
  rules:
    - matchers: {severity: critical}
      class: page
auth:
  operator_token_file: missing-token
`
	_, err := Parse([]byte(in), "nymwatch.yml", "/nonexistent-dir")
	want := []*Error{
		{File: "nymwatch.yml", Line: 1, Key: "listen", Msg: `"nowhere" is not host:port (e.g. 127.0.0.1:9478)`},
		{File: "nymwatch.yml", Line: 3, Key: "probes.interval", Msg: `"3x" is not a duration`},
		{File: "nymwatch.yml", Line: 4, Key: "probes.timeout", Msg: `must be at least 100ms, got 10ms`},
		{File: "nymwatch.yml", Line: 5, Key: "probes.bogus", Msg: `unknown key`},
		{File: "nymwatch.yml", Line: 9, Key: "services[1].name", Msg: `duplicate service name "api" (first on line 7)`},
		{File: "nymwatch.yml", Line: 10, Key: "services[1].url", Msg: `"example.com" is not an absolute URL (want http:// or https://)`},
		{File: "nymwatch.yml", Line: 12, Key: "classification.gateway_failure_ratio", Msg: `must be in (0, 1], got 2`},
		{File: "nymwatch.yml", Line: 15, Key: "classification.rules[0].class", Msg: `invalid class "page" (want security, operational or internal)`},
		{File: "nymwatch.yml", Line: 17, Key: "auth.operator_token_file", Msg: `cannot read /nonexistent-dir/missing-token: no such file or directory`},
	}
	got := Errors(err)
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		g := *got[i]
		g.Err = nil
		if g != *want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, g, *want[i])
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(err, fs.ErrNotExist) = false for a missing token file")
	}
	if e, ok := errors.AsType[*Error](err); !ok || e.Line != 1 {
		t.Errorf("errors.AsType[*Error] = %v, %v", e, ok)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("probes:\n")
	for i := range 500 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	_, err := Parse([]byte(b.String()), "c.yaml", "")
	errs := Errors(err)
	if len(errs) != maxErrors+1 {
		t.Fatalf("got %d problems, want %d", len(errs), maxErrors+1)
	}
	if last := errs[len(errs)-1].Error(); last != "c.yaml: too many problems; only 100 are shown" {
		t.Errorf("last = %q", last)
	}
}

// TestAliasBomb: aliases cannot make the walk exponential: where the
// schema nests, the budget cuts it off.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n  - &a0 {name: a, url: 'https://a.example'}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "  - &a%d [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("control_targets: *a39\n")
	_, err := Parse([]byte(b.String()), "bomb.yaml", "")
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
	if n := len(Errors(err)); n < 40 || n > maxErrors+1 {
		t.Errorf("got %d problems: %.300v", n, err)
	}

	var m strings.Builder
	m.WriteString("classification:\n  rules:\n    - matchers: &m0 {a: b}\n      class: internal\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&m, "    - matchers: &m%d {<<: [*m%d, *m%d, *m%d, *m%d]}\n      class: internal\n", i, i-1, i-1, i-1, i-1)
	}
	_, err = Parse([]byte(m.String()), "bomb.yaml", "")
	errs := Errors(err)
	if len(errs) == 0 || errs[len(errs)-1].Error() != "bomb.yaml: the document is too complex (too many aliases or merge keys)" {
		t.Errorf("merge bomb: %.500v", err)
	}
}

func TestTokenFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secrets/operator", "\n  "+testToken+"  \r\n\n")
	writeFile(t, dir, "webhook", testToken2)
	cfgPath := writeFile(t, dir, "etc/nymwatch.yml", "auth:\n  operator_token_file: ../secrets/operator\n  webhook_token_file: "+filepath.Join(dir, "webhook")+"\n")

	c, err := Load(cfgPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Auth.OperatorToken != testToken {
		t.Errorf("operator token = %q, want it trimmed", c.Auth.OperatorToken)
	}
	if c.Auth.WebhookToken != testToken2 {
		t.Errorf("webhook token = %q", c.Auth.WebhookToken)
	}
	if got, want := c.Auth.OperatorTokenFile, filepath.Join(dir, "secrets/operator"); got != want {
		t.Errorf("relative token path resolved to %q, want %q", got, want)
	}

	// Load with a relative path resolves against the file's directory too,
	// not the working directory.
	t.Chdir(dir)
	c, err = Load("etc/nymwatch.yml")
	if err != nil {
		t.Fatalf("Load relative: %v", err)
	}
	if got, want := c.Auth.OperatorTokenFile, filepath.Join(dir, "secrets/operator"); got != want {
		t.Errorf("token path = %q, want %q", got, want)
	}

	// Parse with an empty baseDir keeps paths relative to the working dir.
	c, err = Parse([]byte("auth:\n  operator_token_file: secrets/operator\nstorage:\n  path: state/nymwatch.db\n"), "x.yml", "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Auth.OperatorTokenFile != "secrets/operator" || c.Storage.Path != "state/nymwatch.db" || c.Auth.OperatorToken != testToken {
		t.Errorf("got %q %q %q", c.Auth.OperatorTokenFile, c.Storage.Path, c.Auth.OperatorToken)
	}

	// storage.path is relative to the config's directory as well.
	c, err = Parse([]byte("storage:\n  path: nymwatch.db\n"), "x.yml", "/srv/nymwatch")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Storage.Path != "/srv/nymwatch/nymwatch.db" {
		t.Errorf("storage.path = %q", c.Storage.Path)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.yml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := writeFile(t, dir, "big.yml", "# "+strings.Repeat("x", maxConfigSize)+"\n")
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	bad := writeFile(t, dir, "bad.yml", "probes:\n  interval: never\n")
	_, err = Load(bad)
	if got, want := fmt.Sprint(err), bad+`:2: probes.interval: "never" is not a duration`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRedaction: secrets never show in String, nor in YAML or JSON dumps.
func TestRedaction(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "op", testToken)
	writeFile(t, dir, "wh", testToken2)
	writeFile(t, dir, "pw", "pg-password-hunter2")
	writeFile(t, dir, "peer", "peer-token-abcdefghijklmnop")
	in := `storage:
  driver: postgres
  dsn: postgres://nymwatch@db.example/nymwatch
  password_file: pw
pagers:
  alertmanager:
    url: https://am:am-password-xyzzy@am.example/
  webhook:
    url: https://hooks.example/p?token=query-secret-plugh
auth:
  operator_token_file: op
  webhook_token_file: wh
cluster:
  name: a
  peers:
    - name: b
      url: https://b.example
      token_file: peer
`
	c, err := Parse([]byte(in), "c.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.OperatorToken != testToken || c.Storage.Password != "pg-password-hunter2" || c.Cluster.Peers[0].Token != "peer-token-abcdefghijklmnop" {
		t.Fatal("secrets not loaded")
	}
	v3out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	v2out, err := yamlv2.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":        c.String(),
		"fmt %v":        fmt.Sprintf("%v", c),
		"fmt %s":        fmt.Sprintf("%s", c), //nolint:staticcheck // the test is that fmt's %s verb redacts too
		"fmt %+v value": fmt.Sprintf("%+v", *c),
		"fmt %#v value": fmt.Sprintf("%#v", *c),
		"fmt %v auth":   fmt.Sprintf("%v %+v %#v", c.Auth, c.Storage, c.Cluster.Peers),
		"fmt %#v auth":  fmt.Sprintf("%#v %#v %#v", c.Auth, c.Storage, c.Cluster),
		"yaml v3":       string(v3out),
		"yaml v2":       string(v2out),
		"json":          string(jsonOut),
		"secret yaml":   mustYAML(t, c.Auth.OperatorToken),
		"secret json":   mustJSON(t, c.Auth.WebhookToken),
		"secret field":  mustJSON(t, c.Auth),
	}
	secrets := []string{testToken, testToken2, "pg-password-hunter2", "peer-token-abcdefghijklmnop"}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s leaks %q:\n%s", name, s, out)
			}
		}
	}
	if got := fmt.Sprint(c.Auth); !strings.Contains(got, "OperatorToken:<secret>") {
		t.Errorf("Auth prints as %s", got)
	}
	for _, s := range []string{"am-password-xyzzy", "query-secret-plugh"} {
		if strings.Contains(c.String(), s) {
			t.Errorf("String() leaks URL secret %q", s)
		}
	}
	if !strings.Contains(c.String(), "https://am:xxxxx@am.example/") || !strings.Contains(c.String(), "token=xxxxx") {
		t.Errorf("String() does not show redacted URLs:\n%s", c.String())
	}
	// The redacted rendering is still a valid config.
	if _, err := Parse([]byte(c.String()), "again.yml", dir); err != nil {
		t.Errorf("String() output does not parse: %v", err)
	}
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRoundTrip: the unredacted rendering parses back to the same config.
func TestRoundTrip(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := marshal(c, false)
	c2, err := Parse(out, "rendered.yml", "")
	if err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip changed the config:\n%s\n---\n%s", marshal(c, false), marshal(c2, false))
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := Default()
	c.Probes.Timeout = c.Probes.Interval
	c.Services = []Service{{Name: "x", URL: "https://x.example", Kind: "http"}}
	c.Auth.OperatorToken = promconfig.Secret(testToken)
	got := errStrings(c.Validate())
	want := []string{
		"probes.timeout: probes.timeout (30s) must be less than probes.interval (30s)",
		"services[0].latency_threshold: must be greater than 0, got 0s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
}

// TestHostileInput: garbage gets a clear error, never a panic or a hang.
func TestHostileInput(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"deep flow nesting", "probes: " + strings.Repeat("[", 100000), "h.yaml: invalid YAML: exceeded max depth of 10000"},
		{"deep block nesting", strings.Repeat("- ", 50000) + "x", "h.yaml: invalid YAML: exceeded max depth of 10000"},
		{"NUL byte", "listen: \x00\n", "h.yaml: invalid YAML: control characters are not allowed"},
		{"invalid UTF-8", "listen: \xff\xfe\n", "h.yaml: invalid YAML: invalid leading UTF-8 octet"},
		{"binary tag", "listen: !!binary aGVsbG8=\n", "h.yaml:1: listen: must be a string, got a value tagged !!binary"},
		{"custom tag", "probes:\n  interval: !dur 5s\n", "h.yaml:2: probes.interval: must be a duration, got a value tagged !dur"},
		{"complex key", "? [a]\n: b\n", "h.yaml:1: a key must be a string, got a list"},
		{"int overflow", "probes: {concurrency: 99999999999999999999}\n", `h.yaml:1: probes.concurrency: "99999999999999999999" is not an integer`},
		{"duration overflow", "probes: {interval: 9999999999999999h}\n", `h.yaml:1: probes.interval: "9999999999999999h" is not a duration`},
		{"control char in URL", "services:\n  - name: a\n    url: \"https://a.example/\\u0000\"\n", `h.yaml:3: services[0].url: "https://a.example/\x00" is not a valid URL: net/url: invalid control character in URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "h.yaml", "")
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// A BOM and explicit tags that mean what is expected are fine.
	for _, in := range []string{"\xef\xbb\xbflisten: 127.0.0.1:1\n", "probes: !!map {interval: 2s, timeout: 1s}\n", "probes:\n  ? interval\n  : 2s\n  timeout: 1s\n", "probes: {concurrency: 0x100}\n"} {
		if _, err := Parse([]byte(in), "h.yaml", ""); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestErrorsUnwrap(t *testing.T) {
	_, err := Parse([]byte("listen: x\nprobes: {interval: 0s}\n"), "c.yml", "")
	wrapped := fmt.Errorf("reload: %w", err)
	if got := len(Errors(wrapped)); got != 2 {
		t.Errorf("Errors(wrapped) found %d problems, want 2", got)
	}
	if Errors(nil) != nil || Errors(errors.New("x")) != nil {
		t.Error("Errors of a non-config error is not empty")
	}
	e := &Error{Key: "a.b", Msg: "bad"}
	if e.Error() != "a.b: bad" {
		t.Errorf("Error() without file = %q", e.Error())
	}
	e = &Error{File: "f", Msg: "bad"}
	if e.Error() != "f: bad" {
		t.Errorf("Error() without line = %q", e.Error())
	}
}
