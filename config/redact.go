package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strings"

	promconfig "github.com/prometheus/common/config"
)

// Printing a config must never show a secret: not with %v, %+v or %#v, not
// in a log line, not in an error. Secret fields (promconfig.Secret) print
// as <secret>; fields tagged redact:"url" hide URL passwords and query
// values (a webhook's ?apikey=); redact:"dsn" hides a PostgreSQL DSN's
// password and sslpassword. Every type holding such a field has String and
// GoString built on structString, so the rule holds when a part of the
// config is printed on its own too.

// secretType is promconfig.Secret, printed as <secret> when set.
var secretType = reflect.TypeFor[promconfig.Secret]()

// structString renders a struct like %+v, redacting as above.
func structString(v any) string {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var b strings.Builder
	b.WriteByte('{')
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name)
		b.WriteByte(':')
		fv := rv.Field(i)
		switch {
		case f.Type == secretType:
			b.WriteString(redacted(promconfig.Secret(fv.String())))
		case f.Tag.Get("redact") != "" && f.Type.Kind() == reflect.String:
			b.WriteString(redactTagged(f.Tag.Get("redact"), fv.String()))
		case f.Tag.Get("redact") != "" && f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = redactTagged(f.Tag.Get("redact"), fv.Index(j).String())
			}
			b.WriteString("[" + strings.Join(parts, " ") + "]")
		default:
			fmt.Fprintf(&b, "%+v", fv.Interface())
		}
	}
	b.WriteByte('}')
	return b.String()
}

func redactTagged(kind, s string) string {
	if kind == "dsn" {
		return redactDSN(s)
	}
	return redactURL(s)
}

// dsnSecretKeys are the libpq keys whose values are secrets.
var dsnSecretRe = regexp.MustCompile(`(?i)((?:^|\s)(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redactDSN hides the password and sslpassword of a postgres:// URL or of
// libpq key=value pairs; everything else (host, dbname, sslmode) stays
// readable for whoever debugs a connection.
func redactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "xxxxx"
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		if u.RawQuery != "" {
			q := u.Query()
			for k := range q {
				if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" {
					q.Set(k, "xxxxx")
				}
			}
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return dsnSecretRe.ReplaceAllString(dsn, "${1}xxxxx")
}

// LogValue keeps secrets out of structured logs: a Config logged with slog
// is its redacted YAML.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString implements fmt.GoStringer with the redacted YAML.
func (c Config) GoString() string { return "config.Config(" + fmt.Sprintf("%q", c.String()) + ")" }

// String and GoString of the parts that hold URLs or a DSN.

func (n Network) String() string             { return structString(n) }
func (n Network) GoString() string           { return "config.Network" + n.String() }
func (s Service) String() string             { return structString(s) }
func (s Service) GoString() string           { return "config.Service" + s.String() }
func (a AlertmanagerPager) String() string   { return structString(a) }
func (a AlertmanagerPager) GoString() string { return "config.AlertmanagerPager" + a.String() }
func (w WebhookPager) String() string        { return structString(w) }
func (w WebhookPager) GoString() string      { return "config.WebhookPager" + w.String() }
func (w Web) String() string                 { return structString(w) }
func (w Web) GoString() string               { return "config.Web" + w.String() }
