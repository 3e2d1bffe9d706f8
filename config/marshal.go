package config

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// marshal renders c as a config file: every key, defaults included, in
// declaration order. Secret fields are never rendered; with redact, URL
// passwords and query values are hidden too.
func marshal(c *Config, redact bool) []byte {
	n := encodeValue(reflect.ValueOf(*c), redact, "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		// Only a programming error (an unsupported node) can get here.
		return fmt.Appendf(nil, "# cannot render config: %v\n", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Appendf(nil, "# cannot render config: %v\n", err)
	}
	return buf.Bytes()
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func stringNode(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	return n
}

// kind is the field's redact tag ("url", "dsn" or "").
func encodeValue(v reflect.Value, redact bool, kind string) *yaml.Node {
	t := v.Type()
	if t == durationType {
		return stringNode(formatDuration(time.Duration(v.Int())))
	}
	if t == httpClientConfigType {
		return encodeHTTPConfig(v)
	}
	switch t.Kind() {
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			m.Content = append(m.Content, stringNode(name),
				encodeValue(v.Field(i), redact, f.Tag.Get("redact")))
		}
		return m
	case reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			s.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			s.Content = append(s.Content, encodeValue(v.Index(i), redact, kind))
		}
		return s
	case reflect.Map:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if v.Len() == 0 {
			m.Style = yaml.FlowStyle
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Content = append(m.Content, stringNode(k), stringNode(v.MapIndex(reflect.ValueOf(k)).String()))
		}
		return m
	case reflect.String:
		s := v.String()
		if redact && kind != "" {
			s = redactTagged(kind, s)
		}
		return stringNode(s)
	case reflect.Int:
		return scalar("", strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		return scalar("", formatFloat(v.Float()))
	case reflect.Bool:
		return scalar("", strconv.FormatBool(v.Bool()))
	}
	panic(fmt.Sprintf("config: cannot render %s", t))
}
