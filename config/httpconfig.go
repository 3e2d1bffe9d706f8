package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	promconfig "github.com/prometheus/common/config"
	yaml2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// http_config blocks (pagers, the directory, services, cluster peers) are
// prometheus/common's HTTPClientConfig, written exactly as in Prometheus and
// Alertmanager. The decoder checks their keys itself, against the type's
// yaml tags, so that an unknown key gets its own line like any other; the
// values are then decoded by the type's own UnmarshalYAML (defaults and
// Validate) through go.yaml.in/yaml/v2's UnmarshalStrict.

var (
	httpClientConfigType = reflect.TypeFor[promconfig.HTTPClientConfig]()
	yamlV2LineRe         = regexp.MustCompile(`line \d+: `)
)

// HTTPConfigSet reports whether an http_config block was given (a zero one
// means: the built-in client, as before http_config existed).
func HTTPConfigSet(hc *promconfig.HTTPClientConfig) bool {
	return !reflect.ValueOf(hc).Elem().IsZero()
}

// HTTPConfigAuth reports whether hc sets credentials of its own (basic
// auth, an Authorization header, a bearer token file or OAuth2).
func HTTPConfigAuth(hc *promconfig.HTTPClientConfig) bool {
	return hc.BasicAuth != nil || hc.Authorization != nil || hc.OAuth2 != nil ||
		hc.BearerTokenFile != "" || hc.BearerToken != ""
}

func (d *decoder) decodeHTTPConfig(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.MappingNode {
		d.fail(line, key, "must be a mapping of keys, got %s", describe(r))
		return
	}
	if len(r.Content) == 0 {
		return // "http_config: {}" is no http_config
	}
	before := len(d.errs)
	d.checkKeys(r, key, httpClientConfigType)
	if len(d.errs) > before {
		d.bad[key] = true
		return
	}
	src, err := yaml.Marshal(r)
	if err != nil {
		d.fail(line, key, "cannot read: %v", err)
		return
	}
	var hc promconfig.HTTPClientConfig
	if err := yaml2.UnmarshalStrict(src, &hc); err != nil {
		// Line numbers in yaml/v2's message are those of the re-encoded
		// block, not the file's: report on the http_config line instead.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		msg = yamlV2LineRe.ReplaceAllString(msg, "")
		d.fail(line, key, "%s", strings.Join(strings.Fields(msg), " "))
		return
	}
	if follow := mapValue(d, r, "follow_redirects"); follow != nil && follow.Value == "true" {
		d.fail(follow.Line, key+".follow_redirects", "nymwatch never follows redirects (a redirect is a failure naming where it pointed)")
		return
	}
	hc.FollowRedirects = false
	for _, p := range inlineSecrets(reflect.ValueOf(hc), key) {
		d.fail(d.lineIn(r, key, p), p, "secrets come from files, not from the config: use the matching *_file key")
	}
	if u := hc.ProxyURL.URL; u != nil {
		if _, has := u.User.Password(); has {
			d.fail(line, key+".proxy_url", "must not hold a password: secrets come from files, not from the config")
		}
	}
	v.Set(reflect.ValueOf(hc))
}

// mapValue returns the value of name in mapping m, or nil.
func mapValue(d *decoder, m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := d.resolve(m.Content[i]); k != nil && k.Value == name {
			return d.resolve(m.Content[i+1])
		}
	}
	return nil
}

// lineIn finds the line of the dotted key full (under base) in m, or m's.
func (d *decoder) lineIn(m *yaml.Node, base, full string) int {
	line := m.Line
	n := m
	for _, part := range strings.Split(strings.TrimPrefix(full, base+"."), ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := d.resolve(n.Content[i]); k != nil && k.Value == part {
				line = k.Line
				n = d.resolve(n.Content[i+1])
				break
			}
		}
	}
	return line
}

// checkKeys reports keys of n that type t does not have, with their line
// and a suggestion, as decodeStruct does for nymwatch's own keys.
func (d *decoder) checkKeys(n *yaml.Node, key string, t reflect.Type) {
	if !d.spend(1) {
		return
	}
	n = d.resolve(n)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]int{}
		types := map[string]reflect.Type{}
		yamlFields(t, fields, types)
		for _, e := range d.entries(n, key, 0) {
			k := joinKey(key, e.name)
			if _, ok := fields[e.name]; !ok {
				d.add(e.key.Line, k, "unknown key%s", suggest(e.name, fields))
				continue
			}
			d.lines[k] = e.key.Line
			d.checkKeys(e.val, k, types[e.name])
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for _, e := range d.entries(n, key, 0) {
			d.checkKeys(e.val, joinKey(key, e.name), t.Elem())
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			d.checkKeys(item, fmt.Sprintf("%s[%d]", key, i), t.Elem())
		}
	}
}

// yamlFields lists t's yaml keys (inline structs flattened) and their types.
func yamlFields(t reflect.Type, fields map[string]int, types map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			yamlFields(f.Type, fields, types)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
		types[name] = f.Type
	}
}

// inlineSecrets lists the dotted keys of non-empty Secret values in v:
// tokens come from files (and are then read on every request, so a
// rotated file is picked up without a reload).
func inlineSecrets(v reflect.Value, key string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = append(out, inlineSecrets(v.Elem(), key)...)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			k := joinKey(key, name)
			if strings.Contains(opts, "inline") {
				k = key
			}
			out = append(out, inlineSecrets(v.Field(i), k)...)
		}
	case reflect.Map:
		for _, mk := range v.MapKeys() {
			out = append(out, inlineSecrets(v.MapIndex(mk), joinKey(key, fmt.Sprint(mk.Interface())))...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, inlineSecrets(v.Index(i), key)...)
		}
	case reflect.String:
		if v.Type() == secretType && v.String() != "" {
			out = append(out, key)
		}
	}
	return out
}

// httpConfigFiles lists the files an http_config reads (ca_file,
// cert_file, credentials_file, …), by their dotted keys.
func httpConfigFiles(v reflect.Value, key string, out map[string]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			httpConfigFiles(v.Elem(), key, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			k := joinKey(key, name)
			if strings.Contains(opts, "inline") {
				k = key
			}
			if f.Type.Kind() == reflect.String && strings.HasSuffix(name, "_file") {
				if s := v.Field(i).String(); s != "" {
					out[k] = s
				}
				continue
			}
			httpConfigFiles(v.Field(i), k, out)
		}
	}
}

// httpConfig checks one http_config: its files are readable and a client
// can be built from it (CA and client certificates parse).
func (v *validator) httpConfig(key string, hc *promconfig.HTTPClientConfig) {
	if !HTTPConfigSet(hc) || v.isBad(key) {
		return
	}
	files := map[string]string{}
	httpConfigFiles(reflect.ValueOf(hc).Elem(), key, files)
	bad := false
	for k, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			v.failf(k, "%s: %v", f, pathErr(err))
			bad = true
			continue
		}
		_ = fh.Close()
	}
	if bad {
		return
	}
	if _, err := promconfig.NewClientFromConfig(*hc, "check-config"); err != nil {
		v.failf(key, "%v", err)
	}
}

// encodeHTTPConfig renders an http_config the way Prometheus does (its
// Secret fields as <secret>; inline secrets are refused anyway).
func encodeHTTPConfig(v reflect.Value) *yaml.Node {
	if v.IsZero() {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	}
	b, err := yaml2.Marshal(v.Interface())
	if err != nil {
		panic(fmt.Sprintf("config: cannot render http_config: %v", err))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		panic(fmt.Sprintf("config: cannot render http_config: %v", err))
	}
	return doc.Content[0]
}
