package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Disclosure tunes the incident's life after "confirm" (docs/follow-ups.md).
type Disclosure struct {
	// Channels is the section V checklist each confirmed incident gets.
	// Unset (or an empty list, which YAML decodes the same): the policy's
	// six (disclosure.DefaultChannels).
	Channels []string `yaml:"channels"`
}

// Bounds of disclosure.channels: a checklist, not a database.
const (
	maxDisclosureChannels     = 30
	maxDisclosureChannelRunes = 100
)

func (v *validator) disclosure(d *Disclosure) {
	if len(d.Channels) == 0 {
		return
	}
	if len(d.Channels) > maxDisclosureChannels {
		v.failf("disclosure.channels", "must list from 1 to %d channels (omit the key for the policy's six), got %d", maxDisclosureChannels, len(d.Channels))
		return
	}
	seen := map[string]int{}
	for i, c := range d.Channels {
		key := fmt.Sprintf("disclosure.channels[%d]", i)
		switch {
		case strings.TrimSpace(c) != c || c == "":
			v.failf(key, "must be a non-empty name without leading or trailing space, got %q", c)
		case !utf8.ValidString(c) || utf8.RuneCountInString(c) > maxDisclosureChannelRunes || strings.ContainsAny(c, "\r\n\t/"):
			v.failf(key, "must be one line of at most %d characters without '/', got %q", maxDisclosureChannelRunes, c)
		default:
			if j, dup := seen[c]; dup {
				v.failf(key, "duplicate channel %q (first %s)", c, v.where(fmt.Sprintf("disclosure.channels[%d]", j)))
			}
			seen[c] = i
		}
	}
}
