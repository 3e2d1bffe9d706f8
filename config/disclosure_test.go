package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDisclosureChannels(t *testing.T) {
	c, err := Parse([]byte("{}\n"), "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Disclosure.Channels != nil {
		t.Errorf("default channels %q, want unset (the policy's six)", c.Disclosure.Channels)
	}
	c, err = Parse([]byte("disclosure:\n  channels:\n    - Status page\n    - Mastodon\n"), "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Disclosure.Channels, []string{"Status page", "Mastodon"}) {
		t.Errorf("channels %q", c.Disclosure.Channels)
	}
	for _, tt := range []struct{ name, in, want string }{
		{"too many", "disclosure:\n  channels: [" + strings.Repeat("a,", 30) + "b]\n", "config.yaml:2: disclosure.channels: must list from 1 to 30 channels"},
		{"blank", "disclosure:\n  channels:\n    - Status page\n    - \" \"\n", "config.yaml:4: disclosure.channels[1]: must be a non-empty name"},
		{"slash", "disclosure:\n  channels:\n    - a/b\n", "config.yaml:3: disclosure.channels[0]: must be one line"},
		{"duplicate", "disclosure:\n  channels:\n    - Blog\n    - Blog\n", "config.yaml:4: disclosure.channels[1]: duplicate channel \"Blog\""},
		{"unknown key", "disclosure:\n  chanels: [a]\n", "chanels"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "config.yaml", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			var ce *Error
			if tt.name != "unknown key" && !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}
