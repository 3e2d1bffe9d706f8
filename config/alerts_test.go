package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestAlertsDefaults(t *testing.T) {
	c, err := Parse(nil, "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerts.MaxFiring != 5000 || c.Alerts.MaxGroups != 50 {
		t.Errorf("alerts = %+v, want max_firing 5000, max_groups 50", c.Alerts)
	}
	c, err = Parse([]byte("alerts:\n  max_firing: 20\n  max_groups: 3\n"), "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerts.MaxFiring != 20 || c.Alerts.MaxGroups != 3 {
		t.Errorf("alerts = %+v", c.Alerts)
	}
}

func TestAlertsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "wh", testToken2+"\n")
	tests := []struct {
		name, in string
		want     []string
	}{
		{"max_firing zero", "alerts:\n  max_firing: 0\n", []string{
			`config.yaml:2: alerts.max_firing: must be from 1 to 100000, got 0`}},
		{"max_firing huge", "alerts:\n  max_firing: 1000000\n", []string{
			`config.yaml:2: alerts.max_firing: must be from 1 to 100000, got 1000000`}},
		{"max_groups negative", "alerts:\n  max_groups: -1\n", []string{
			`config.yaml:2: alerts.max_groups: must be from 1 to 1000, got -1`}},
		{"max_firing not a number", "alerts:\n  max_firing: lots\n", []string{
			`config.yaml:2: alerts.max_firing: "lots" is not an integer`}},
		// The error points at listen, the line that makes the token required.
		{"public listen without webhook token", "storage:\n  path: x.db\nlisten: 0.0.0.0:9478\n", []string{
			`config.yaml:3: auth.webhook_token_file: is required when listen ("0.0.0.0:9478") is not a loopback address: anyone who reaches POST /api/v1/alertmanager could open drafts and page the team`}},
		{"all interfaces without webhook token", "listen: \":9478\"\nauth:\n  operator_token_file: wh\n", []string{
			`config.yaml:1: auth.webhook_token_file: is required when listen (":9478") is not a loopback address: anyone who reaches POST /api/v1/alertmanager could open drafts and page the team`}},
		{"host name without webhook token", "listen: nymwatch.example:9478\n", []string{
			`config.yaml:1: auth.webhook_token_file: is required when listen ("nymwatch.example:9478") is not a loopback address: anyone who reaches POST /api/v1/alertmanager could open drafts and page the team`}},
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
		})
	}
}

func TestWebhookTokenNotRequiredOnLoopback(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "wh", testToken2+"\n")
	for _, in := range []string{
		"listen: 127.0.0.1:9478\n",
		"listen: 127.0.0.2:9478\n",
		"listen: \"[::1]:9478\"\n",
		"listen: localhost:9478\n",
		"listen: 0.0.0.0:9478\nauth:\n  webhook_token_file: wh\n",
		"listen: \"[::]:9478\"\nauth:\n  webhook_token_file: wh\n",
	} {
		c, err := Parse([]byte(in), "config.yaml", dir)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", in, err)
		}
	}
	// A config built in code carries the token itself, not a file.
	c := Default()
	c.Listen = "0.0.0.0:9478"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "auth.webhook_token_file: is required") {
		t.Errorf("Validate without a token on 0.0.0.0 = %v, want the webhook token error", err)
	}
	c.Auth.WebhookToken = testToken2
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with a token: %v", err)
	}
}
