package rules

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder copies a YAML node tree onto a Config, key by key, instead of
// letting yaml.Unmarshal do it, so that every unknown key, duplicate key and
// type error is reported with its key path and line, all of them rather than
// the first, and so that keys absent from the file keep their defaults.
type decoder struct {
	file  string
	errs  *Errors
	lines map[string]int  // key path -> line where the file sets it
	bad   map[string]bool // key paths whose value could not be decoded
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.errs.add(Problem{File: d.file, Line: n.Line, Key: path, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decode sets v from n. On a type error v is left as it was.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		d.decodeScalar(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(t.Elem())
		if !v.IsNil() {
			p.Elem().Set(v.Elem())
		}
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		if isNull(n) {
			return // a key with no value is as if absent
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping with the keys %s, got %s", strings.Join(structKeys(t), ", "), describe(n))
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "must be a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMap(t)
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			key := reflect.New(t.Key())
			if err := kn.Decode(key.Interface()); err != nil {
				d.errorf(kn, path, "key %q must be %s", kn.Value, typeWant(t.Key()))
				continue
			}
			sub := joinKey(path, kn.Value)
			if l, dup := seen[kn.Value]; dup {
				d.errorf(kn, sub, "set twice (first at line %d)", l)
				continue
			}
			seen[kn.Value] = kn.Line
			d.lines[sub] = kn.Line
			elem := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(key.Elem()); old.IsValid() {
				elem.Set(old)
			}
			d.decode(vn, elem, sub)
			m.SetMapIndex(key.Elem(), elem)
		}
		v.Set(m)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := structFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.errorf(kn, path, "a key must be a plain name, got %s", describe(kn))
			continue
		}
		if kn.Value == "<<" { // a merge key: the mapping(s) it names, then the rest
			merged := []*yaml.Node{vn}
			if vn.Kind == yaml.SequenceNode {
				merged = vn.Content
			}
			for _, m := range merged {
				d.decode(m, v, path)
			}
			continue
		}
		sub := joinKey(path, kn.Value)
		idx, ok := fields[kn.Value]
		if !ok {
			msg := "unknown key"
			if s := suggest(kn.Value, structKeys(v.Type())); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			d.errorf(kn, sub, "%s", msg)
			continue
		}
		if l, dup := seen[kn.Value]; dup {
			d.errorf(kn, sub, "set twice (first at line %d)", l)
			continue
		}
		seen[kn.Value] = kn.Line
		d.lines[sub] = kn.Line
		d.decode(vn, v.FieldByIndex(idx), sub)
	}
}

// decodeScalar lets the YAML library convert one value, into a scratch copy
// so that a bad value leaves the default in place.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if isNull(n) {
		return
	}
	if t == durationType && n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "d") {
		// Days, as greylisting's memory and Postfix's time units are
		// written (30d); the YAML library knows only Go's units.
		dur, err := ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, "must be %s, got %q", typeWant(t), n.Value)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	tmp := reflect.New(t)
	tmp.Elem().Set(v)
	err := n.Decode(tmp.Interface())
	if err == nil && n.ShortTag() == "!!float" && isInt(t.Kind()) {
		// The library truncates 1.5 to 1 silently.
		if f, ferr := strconv.ParseFloat(n.Value, 64); ferr != nil || f != math.Trunc(f) {
			err = fmt.Errorf("not a whole number")
		}
	}
	if err != nil {
		switch {
		case n.Kind != yaml.ScalarNode && !reflect.PointerTo(t).Implements(yamlUnmarshaler):
			d.errorf(n, path, "must be %s, got %s", typeWant(t), describe(n))
		case t.Kind() == reflect.Struct || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer:
			d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		default:
			d.errorf(n, path, "must be %s, got %q", typeWant(t), n.Value)
		}
		return
	}
	v.Set(tmp.Elem())
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields maps each YAML key of a struct type to its field.
func structFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, idx := range structFields(f.Type) {
				m[k] = append(append([]int{}, f.Index...), idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Index
	}
	return m
}

func structKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	return keys
}

// typeWant says in words what a value of type t looks like in the file.
func typeWant(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 2s, 500ms, 1m30s or 30d"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a " + t.String()
}

// describe names what the file holds at n, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// suggest returns the known key closest to a mistyped one, if it is close.
func suggest(key string, known []string) string {
	best, bestD := "", len(key)/3+1
	if bestD > 3 {
		bestD = 3
	}
	for _, k := range known {
		if len(key) >= 4 && (strings.HasPrefix(k, key) || strings.HasPrefix(key, k)) {
			return k
		}
	}
	for _, k := range known {
		if dist := editDistance(key, k); dist <= bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
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

// ParseDuration reads a duration as the configuration writes it: Go's
// units (time.ParseDuration: "1h30m", "500ms") with a leading count of
// days allowed ("30d", "1d12h"), a day being 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 16)
	if err != nil || days == "" || days[0] == '+' {
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	dur := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return dur, nil
	}
	more, err := time.ParseDuration(rest)
	if err != nil || more < 0 {
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	return dur + more, nil
}
