package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The decoder walks the yaml.Node tree itself rather than using
// yaml.Unmarshal, so that every key has a line, and every problem (unknown
// key, wrong type, duplicate) is collected instead of stopping at the first.

var (
	durationType = reflect.TypeFor[time.Duration]()
	yamlLineRe   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

type decoder struct {
	collector
	// lines maps each dotted key present in the file to the line of its key
	// (of the item, for list items). Keys left at their default are absent.
	lines map[string]int
	// budget bounds the work of one parse: aliases and merge keys let a
	// small file describe an exponentially large tree.
	budget    int
	exhausted bool
	fields    map[reflect.Type]map[string]int
}

func newDecoder(file string) *decoder {
	return &decoder{
		collector: collector{file: file, bad: map[string]bool{}},
		lines:     map[string]int{},
		fields:    map[reflect.Type]map[string]int{},
	}
}

// defaulter is implemented by list elements with per-element defaults.
type defaulter interface{ setDefaults() }

// decodeDocument decodes data (one YAML document) onto cfg, which holds the
// defaults.
func (d *decoder) decodeDocument(data []byte, cfg *Config) {
	d.budget = 50_000 + 4*len(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(err)
		}
		return
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
	default:
		d.add(extra.Line, "", "the file holds more than one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	if r := d.resolve(root); r != nil && r.Kind == yaml.MappingNode {
		d.decodeValue(root, "", root.Line, reflect.ValueOf(cfg).Elem())
		return
	}
	if isNull(d.resolve(root)) {
		return // an empty file means all defaults
	}
	d.add(root.Line, "", "the top level must be a mapping of keys, got %s", describe(d.resolve(root)))
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.addErr(line, "", "invalid YAML: "+m[2], err)
		return
	}
	d.addErr(0, "", "invalid YAML: "+strings.TrimPrefix(msg, "yaml: "), err)
}

// spend takes n from the budget and reports whether work may go on.
func (d *decoder) spend(n int) bool {
	if d.exhausted {
		return false
	}
	d.budget -= n
	if d.budget < 0 {
		d.exhausted = true
		d.add(0, "", "the document is too complex (too many aliases or merge keys)")
		return false
	}
	return true
}

// resolve follows aliases.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 1000 {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return fmt.Sprintf("a value tagged %s", n.Tag)
	}
	return "an unsupported node"
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// decodeValue decodes n into v. key is v's dotted key, line the line to
// report problems on. A null value leaves v (its default) untouched, as if
// the key were absent.
func (d *decoder) decodeValue(n *yaml.Node, key string, line int, v reflect.Value) {
	if !d.spend(1) {
		return
	}
	r := d.resolve(n)
	if r == nil {
		d.fail(line, key, "alias chain too deep")
		return
	}
	if isNull(r) {
		return
	}
	if key != "" {
		d.lines[key] = line
	}
	t := v.Type()
	switch {
	case t == httpClientConfigType:
		d.decodeHTTPConfig(r, key, line, v)
	case t == durationType:
		s, ok := d.scalarString(r, key, line, "a duration")
		if !ok {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.fail(line, key, "%q is not a duration", s)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.Struct:
		d.decodeStruct(r, key, line, v)
	case t.Kind() == reflect.Slice:
		d.decodeSlice(r, key, line, v)
	case t.Kind() == reflect.Map:
		d.decodeStringMap(r, key, line, v)
	case t.Kind() == reflect.String:
		if s, ok := d.scalarString(r, key, line, "a string"); ok {
			v.SetString(s)
		}
	case t.Kind() == reflect.Int:
		d.decodeInt(r, key, line, v)
	case t.Kind() == reflect.Float64:
		d.decodeFloat(r, key, line, v)
	case t.Kind() == reflect.Bool:
		if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" {
			if r.Kind == yaml.ScalarNode {
				d.fail(line, key, "%q is not a boolean (want true or false)", r.Value)
			} else {
				d.fail(line, key, "must be a boolean, got %s", describe(r))
			}
			return
		}
		var b bool
		if err := r.Decode(&b); err != nil {
			d.fail(line, key, "%q is not a boolean (want true or false)", r.Value)
			return
		}
		v.SetBool(b)
	default:
		// A programming error in the Config types, not a user error.
		panic(fmt.Sprintf("config: unsupported field type %s at %s", t, key))
	}
}

// fail records a problem with a key's value and marks the key bad.
func (d *decoder) fail(line int, key, format string, args ...any) {
	d.bad[key] = true
	d.add(line, key, format, args...)
}

// scalarString returns a scalar's text. Numbers and booleans are accepted
// where a string is wanted (node ids, label values), as written.
func (d *decoder) scalarString(r *yaml.Node, key string, line int, want string) (string, bool) {
	if r.Kind != yaml.ScalarNode {
		d.fail(line, key, "must be %s, got %s", want, describe(r))
		return "", false
	}
	switch r.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return r.Value, true
	}
	d.fail(line, key, "must be %s, got %s", want, describe(r))
	return "", false
}

func (d *decoder) decodeInt(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.ScalarNode {
		d.fail(line, key, "must be an integer, got %s", describe(r))
		return
	}
	var i int
	if r.ShortTag() != "!!int" || r.Decode(&i) != nil {
		d.fail(line, key, "%q is not an integer", r.Value)
		return
	}
	v.SetInt(int64(i))
}

func (d *decoder) decodeFloat(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.ScalarNode {
		d.fail(line, key, "must be a number, got %s", describe(r))
		return
	}
	var f float64
	if tag := r.ShortTag(); (tag != "!!int" && tag != "!!float") || r.Decode(&f) != nil {
		d.fail(line, key, "%q is not a number", r.Value)
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(line, key, "must be a finite number, got %s", r.Value)
		return
	}
	v.SetFloat(f)
}

// entry is one key/value pair of a mapping.
type entry struct {
	name     string
	key, val *yaml.Node
}

// entries lists a mapping's pairs, reporting duplicate keys and applying
// merge keys (<<: *anchor), whose pairs never override explicit ones.
func (d *decoder) entries(m *yaml.Node, key string, depth int) []entry {
	if depth > 20 {
		d.add(m.Line, key, "merge keys nested too deeply")
		return nil
	}
	seen := map[string]int{}
	var out, merged []entry
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !d.spend(1) {
			return out
		}
		k, val := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			merged = append(merged, d.mergeEntries(val, key, depth)...)
			continue
		}
		kr := d.resolve(k)
		if kr == nil || kr.Kind != yaml.ScalarNode || isNull(kr) {
			d.add(k.Line, key, "a key must be a string, got %s", describe(kr))
			continue
		}
		name := kr.Value
		if first, dup := seen[name]; dup {
			d.add(k.Line, joinKey(key, name), "duplicate key (first on line %d)", first)
			continue
		}
		seen[name] = k.Line
		out = append(out, entry{name: name, key: k, val: val})
	}
	for _, e := range merged {
		if _, ok := seen[e.name]; !ok {
			seen[e.name] = e.key.Line
			out = append(out, e)
		}
	}
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 &&
		(k.Tag == "" || k.Tag == "!" || k.Tag == "!!merge" || k.Tag == "tag:yaml.org,2002:merge")
}

func (d *decoder) mergeEntries(val *yaml.Node, key string, depth int) []entry {
	r := d.resolve(val)
	switch {
	case r != nil && r.Kind == yaml.MappingNode:
		return d.entries(r, key, depth+1)
	case r != nil && r.Kind == yaml.SequenceNode:
		var out []entry
		seen := map[string]bool{}
		for _, item := range r.Content {
			ir := d.resolve(item)
			if ir == nil || ir.Kind != yaml.MappingNode {
				d.add(item.Line, key, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(ir))
				continue
			}
			// Earlier mappings in the list take precedence.
			for _, e := range d.entries(ir, key, depth+1) {
				if !seen[e.name] {
					seen[e.name] = true
					out = append(out, e)
				}
			}
		}
		return out
	}
	d.add(val.Line, key, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(r))
	return nil
}

func (d *decoder) structFields(t reflect.Type) map[string]int {
	if f, ok := d.fields[t]; ok {
		return f
	}
	f := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			f[name] = i
		}
	}
	d.fields[t] = f
	return f
}

func (d *decoder) decodeStruct(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.MappingNode {
		d.fail(line, key, "must be a mapping of keys, got %s", describe(r))
		return
	}
	fields := d.structFields(v.Type())
	for _, e := range d.entries(r, key, 0) {
		k := joinKey(key, e.name)
		idx, ok := fields[e.name]
		if !ok {
			d.add(e.key.Line, k, "unknown key%s", suggest(e.name, fields))
			continue
		}
		d.decodeValue(e.val, k, e.key.Line, v.Field(idx))
	}
}

func (d *decoder) decodeSlice(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.SequenceNode {
		d.fail(line, key, "must be a list, got %s", describe(r))
		return
	}
	et := v.Type().Elem()
	s := reflect.MakeSlice(v.Type(), 0, len(r.Content))
	for i, item := range r.Content {
		if !d.spend(1) {
			break
		}
		elem := reflect.New(et)
		if def, ok := elem.Interface().(defaulter); ok {
			def.setDefaults()
		}
		ik := fmt.Sprintf("%s[%d]", key, i)
		if isNull(d.resolve(item)) {
			d.fail(item.Line, ik, "empty list item")
		} else {
			d.decodeValue(item, ik, item.Line, elem.Elem())
		}
		s = reflect.Append(s, elem.Elem())
	}
	if s.Len() == 0 {
		s = reflect.Zero(v.Type())
	}
	v.Set(s)
}

func (d *decoder) decodeStringMap(r *yaml.Node, key string, line int, v reflect.Value) {
	if r.Kind != yaml.MappingNode {
		d.fail(line, key, "must be a mapping, got %s", describe(r))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range d.entries(r, key, 0) {
		k := joinKey(key, e.name)
		vr := d.resolve(e.val)
		d.lines[k] = e.key.Line
		if isNull(vr) {
			d.fail(e.key.Line, k, "missing value")
			d.bad[key] = true
			continue
		}
		s, ok := d.scalarString(vr, k, e.key.Line, "a string")
		if !ok {
			d.bad[key] = true
			continue
		}
		m.SetMapIndex(reflect.ValueOf(e.name), reflect.ValueOf(s))
	}
	if m.Len() == 0 {
		m = reflect.Zero(v.Type())
	}
	v.Set(m)
}

// parseDuration accepts Prometheus durations (30s, 5m, 1h, 1d, 1w) and,
// failing that, Go durations (1.5s, 300ms, -5s: negative values are caught
// by validation with a clearer message).
func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}

// formatDuration is parseDuration's inverse.
func formatDuration(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return model.Duration(d).String()
	}
	return d.String()
}

// suggest returns ` (did you mean "x"?)` for a near miss, or "".
func suggest(name string, fields map[string]int) string {
	best, bestDist := "", 3
	norm := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	for f := range fields {
		dist := levenshtein(norm, f)
		if dist < bestDist || (dist == bestDist && f < best) {
			best, bestDist = f, dist
		}
	}
	if best == "" || bestDist > max(1, len(norm)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
