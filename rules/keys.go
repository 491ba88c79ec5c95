package rules

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Key is one configuration key and its built-in default, as written in
// the YAML file.
type Key struct {
	// Name is the key's path: "limits.command_timeout". A list of
	// mappings (dnsbl) is one key; so is a mapping of names to values
	// (checks.scores).
	Name string
	// Default is the default in YAML flow form: "5m", "[127.0.0.0/8,
	// ::1/128]", `""`, "{A: 1, B: 2}" (a mapping's entries sorted by name).
	Default string
	// Value is the default itself, for callers that list a mapping's
	// entries.
	Value reflect.Value
}

// Keys returns every key of c in the order of the Config struct, each with
// its value in c. Keys(Default()) is the reference of the built-in
// defaults: serve -help prints it and a test checks the documentation
// against it.
func Keys(c *Config) []Key {
	var out []Key
	walkKeys(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walkKeys(v reflect.Value, prefix string, out *[]Key) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag[0] == "-" {
			continue
		}
		fv := v.Field(i)
		if tag[0] == "" && len(tag) > 1 && tag[1] == "inline" {
			walkKeys(fv, prefix, out)
			continue
		}
		name := prefix + tag[0]
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			walkKeys(fv, name+".", out)
			continue
		}
		*out = append(*out, Key{Name: name, Default: FormatValue(fv), Value: fv})
	}
}

// FormatValue writes a configuration value as the YAML file would: a
// duration as "1m30s" without zero units, an empty string as `""`, a list
// and a mapping in flow form.
func FormatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return FormatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = FormatValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprint(k) + ": " + FormatValue(v.MapIndex(k))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Struct:
		var sub []Key
		walkKeys(v, "", &sub)
		parts := make([]string, len(sub))
		for i, k := range sub {
			parts[i] = k.Name + ": " + k.Default
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return `""`
		}
		return FormatValue(v.Elem())
	}
	return fmt.Sprint(v.Interface())
}

// FormatDuration writes d as a configuration file does: "5m", "1m30s",
// "500ms", "0s"; time.Duration.String would write "5m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
