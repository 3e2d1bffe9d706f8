package config

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"unicode"

	promconfig "github.com/prometheus/common/config"
)

const (
	// maxSecretFile bounds what is read from a token or password file.
	maxSecretFile = 64 << 10
	// minTokenLen keeps guessable tokens out: `openssl rand -hex 32` makes
	// a good one.
	minTokenLen = 16
)

// loadSecrets reads the token and password files named by c into its
// Secret fields, reporting problems on the keys that name the files.
func loadSecrets(c *Config, d *decoder) {
	v := &validator{errs: &d.collector, lines: d.lines}
	read := func(key, path string, token bool, dst *promconfig.Secret) {
		if path == "" || v.isBad(key) {
			return
		}
		s, err := readSecretFile(path, token)
		if err != nil {
			d.addErr(v.lineOf(key), key, err.Error(), errors.Unwrap(err))
			d.bad[key] = true
			return
		}
		*dst = promconfig.Secret(s)
	}
	read("storage.password_file", c.Storage.PasswordFile, false, &c.Storage.Password)
	read("auth.operator_token_file", c.Auth.OperatorTokenFile, true, &c.Auth.OperatorToken)
	read("auth.webhook_token_file", c.Auth.WebhookTokenFile, true, &c.Auth.WebhookToken)
	read("cluster.token_file", c.Cluster.TokenFile, true, &c.Cluster.Token)
	read("auth.viewer_token_file", c.Auth.ViewerTokenFile, true, &c.Auth.ViewerToken)
	for i := range c.Cluster.Peers {
		p := &c.Cluster.Peers[i]
		read(fmt.Sprintf("cluster.peers[%d].token_file", i), p.TokenFile, true, &p.Token)
	}
	// Alertmanager's credentials must not be able to read the cluster view
	// either: a leaked webhook token should expose nothing.
	if c.Cluster.Token != "" && c.Auth.WebhookToken != "" &&
		subtle.ConstantTimeCompare([]byte(c.Cluster.Token), []byte(c.Auth.WebhookToken)) == 1 {
		v.failf("cluster.token_file", "holds the same token as auth.webhook_token_file; use two different tokens")
	}
	// A read-only token that is also a stronger one would not be read-only.
	for _, other := range []struct {
		key string
		tok promconfig.Secret
	}{
		{"auth.operator_token_file", c.Auth.OperatorToken},
		{"auth.webhook_token_file", c.Auth.WebhookToken},
		{"cluster.token_file", c.Cluster.Token},
	} {
		if c.Auth.ViewerToken != "" && other.tok != "" &&
			subtle.ConstantTimeCompare([]byte(c.Auth.ViewerToken), []byte(other.tok)) == 1 {
			v.failf("auth.viewer_token_file", "holds the same token as %s; use two different tokens", other.key)
		}
	}
	// Alertmanager's credentials must not be able to confirm incidents.
	if c.Auth.OperatorToken != "" && c.Auth.WebhookToken != "" &&
		subtle.ConstantTimeCompare([]byte(c.Auth.OperatorToken), []byte(c.Auth.WebhookToken)) == 1 {
		v.failf("auth.webhook_token_file", "holds the same token as auth.operator_token_file; use two different tokens")
	}
}

// secretFileError keeps the cause (e.g. fs.ErrNotExist) for errors.Is.
type secretFileError struct {
	msg string
	err error
}

func (e *secretFileError) Error() string { return e.msg }
func (e *secretFileError) Unwrap() error { return e.err }

// readSecretFile reads a secret, trimmed of surrounding whitespace. Tokens
// go into Authorization headers, so they may not contain whitespace.
func readSecretFile(path string, token bool) (string, error) {
	fail := func(err error, format string, args ...any) error {
		return &secretFileError{msg: fmt.Sprintf(format, args...), err: err}
	}
	// Stat before open: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		return "", fail(err, "cannot read %s: %v", path, pathErr(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fail(nil, "%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fail(err, "cannot read %s: %v", path, pathErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fail(err, "cannot read %s: %v", path, pathErr(err))
	}
	if len(b) > maxSecretFile {
		return "", fail(nil, "%s is larger than %d bytes", path, maxSecretFile)
	}
	s := strings.TrimSpace(string(b))
	switch {
	case s == "":
		return "", fail(nil, "%s is empty", path)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", fail(nil, "%s contains control characters", path)
	case token && strings.ContainsFunc(s, unicode.IsSpace):
		return "", fail(nil, "the token in %s contains whitespace", path)
	case token && len(s) < minTokenLen:
		return "", fail(nil, "the token in %s is shorter than %d characters", path, minTokenLen)
	}
	return s, nil
}

// pathErr drops fs.PathError's repetition of the path.
func pathErr(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
