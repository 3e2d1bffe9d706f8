package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Cluster keys added with the quorum: pull interval and timeout defaults,
// the cluster token, and their validation.
func TestClusterPullDefaults(t *testing.T) {
	tests := []struct {
		name, in          string
		interval, timeout time.Duration
	}{
		{"defaults", "", 30 * time.Second, 5 * time.Second},
		{"follows probes.interval", "probes:\n  interval: 4s\n  timeout: 1s\n", 4 * time.Second, 2 * time.Second},
		{"explicit", "cluster:\n  pull_interval: 1m\n  pull_timeout: 20s\n", time.Minute, 20 * time.Second},
		{"explicit interval, default timeout", "cluster:\n  pull_interval: 3s\n", 3 * time.Second, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yaml", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if c.Cluster.PullInterval != tt.interval || c.Cluster.PullTimeout != tt.timeout {
				t.Errorf("pull_interval %s pull_timeout %s, want %s %s", c.Cluster.PullInterval, c.Cluster.PullTimeout, tt.interval, tt.timeout)
			}
		})
	}
}

func TestClusterErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tok", testToken)
	writeFile(t, dir, "wh", testToken2)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"timeout not below interval", "cluster:\n  pull_interval: 5s\n  pull_timeout: 5s\n", []string{
			`config.yaml:3: cluster.pull_timeout: cluster.pull_timeout (5s) must be less than cluster.pull_interval (5s)`}},
		{"timeout above the derived interval", "probes:\n  interval: 2s\n  timeout: 1s\ncluster:\n  pull_timeout: 3s\n", []string{
			`config.yaml:5: cluster.pull_timeout: cluster.pull_timeout (3s) must be less than cluster.pull_interval (2s)`}},
		{"interval too short", "cluster:\n  pull_interval: 500ms\n", []string{
			`config.yaml:2: cluster.pull_interval: must be at least 1s, got 500ms`}},
		{"zero timeout", "cluster:\n  pull_timeout: 0s\n", []string{
			`config.yaml:2: cluster.pull_timeout: must be greater than 0, got 0s`}},
		{"cluster token is the webhook token", "auth:\n  webhook_token_file: wh\ncluster:\n  token_file: wh\n", []string{
			`config.yaml:4: cluster.token_file: holds the same token as auth.webhook_token_file; use two different tokens`}},
		{"missing token file", "cluster:\n  token_file: nope\n", []string{
			`config.yaml:2: cluster.token_file: cannot read ` + dir + `/nope: no such file or directory`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "config.yaml", dir)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestClusterTokenLoadedAndRedacted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ct", "cluster-token-abcdefghijklmnop")
	c, err := Parse([]byte("cluster:\n  token_file: ct\n"), "config.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Token != "cluster-token-abcdefghijklmnop" {
		t.Fatalf("token %q", c.Cluster.Token)
	}
	for name, out := range map[string]string{
		"String": c.String(),
		"%v":     fmt.Sprintf("%v", c.Cluster),
		"%+v":    fmt.Sprintf("%+v", *c),
		"%#v":    fmt.Sprintf("%#v", c.Cluster),
	} {
		if strings.Contains(out, "cluster-token-abcdefghijklmnop") {
			t.Errorf("%s leaks the cluster token: %s", name, out)
		}
	}
}
