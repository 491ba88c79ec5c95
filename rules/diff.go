package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Change is one difference between two configurations: a key whose
// effective value was added (a list item, a map entry), removed, or
// changed. Key is the path problems use ("dnsbl[0].zone", "domains[1]").
type Change struct {
	Key  string
	Kind string // "added", "removed" or "changed"
	Old  string // "" when added
	New  string // "" when removed
}

// Diff lists what differs between two configurations, key by key in key
// order, comparing effective values (a key a file leaves out has its
// default), so a reload can say exactly what it changes. A password in
// store's URL is shown as xxxxx.
func Diff(old, cur *Config) []Change {
	a, b := flatten(old), flatten(cur)
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		ov, inOld := a[k]
		nv, inNew := b[k]
		switch {
		case !inOld:
			out = append(out, Change{Key: k, Kind: "added", New: shown(k, nv)})
		case !inNew:
			out = append(out, Change{Key: k, Kind: "removed", Old: shown(k, ov)})
		case ov != nv:
			out = append(out, Change{Key: k, Kind: "changed", Old: shown(k, ov), New: shown(k, nv)})
		}
	}
	return out
}

// shown is a value as a log may show it: without a password.
func shown(key, v string) string {
	if key == "store" {
		if u, err := url.Parse(v); err == nil && u.User != nil {
			return u.Redacted()
		}
	}
	return v
}

// flatten renders every leaf of a configuration under its key.
func flatten(c *Config) map[string]string {
	out := map[string]string{}
	if c != nil {
		flattenValue(out, "", reflect.ValueOf(c).Elem())
	}
	return out
}

func flattenValue(out map[string]string, key string, v reflect.Value) {
	join := func(name string) string {
		if key == "" {
			return name
		}
		return key + "." + name
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			flattenValue(out, join(name), v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			flattenValue(out, fmt.Sprintf("%s[%d]", key, i), v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			flattenValue(out, join(fmt.Sprint(k.Interface())), v.MapIndex(k))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			flattenValue(out, key, v.Elem())
		}
	default:
		s := fmt.Sprint(v.Interface())
		if d, ok := v.Interface().(time.Duration); ok {
			s = d.String()
		}
		out[key] = s
	}
}

// Blank reports whether a configuration document sets no key at all:
// empty, white space, comments only, "---", null or {}. Such a file
// configures the built-in defaults; on a reload it is far more often a
// file being written, or emptied by mistake, than a wish.
func Blank(data []byte) bool {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		// No document at all is io.EOF; a syntax error is for Parse to
		// report.
		return errors.Is(err, io.EOF)
	}
	if len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	return isNull(root) || root.Kind == yaml.MappingNode && len(root.Content) == 0
}
