package rules

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// validator collects the problems of one configuration. Checks name the key
// they are about by its path ("dnsbl[0].action", "tls.cert"); the validator
// finds the line in the file that set it.
type validator struct {
	file  string
	lines map[string]int
	bad   map[string]bool // keys the decoder could not set
	errs  *Errors
}

var validators []func(cfg *Config, v *validator)

// registerValidator adds an area's checks of its own keys; they run after
// the file is decoded and the SPEC's keys are checked, on every Load and
// Parse. A check reports each problem with v.Errorf and carries on, so all
// problems are reported together. See registerDefaults for an example.
func registerValidator(f func(cfg *Config, v *validator)) { validators = append(validators, f) }

// Errorf reports a problem with key, unless the key (or one enclosing it)
// held a value of the wrong type: that is reported already, and the value
// checked is only the default it kept.
func (v *validator) Errorf(key, format string, args ...any) {
	for k := key; k != ""; k = parentKey(k) {
		if v.bad[k] {
			return
		}
	}
	v.errs.add(Problem{File: v.file, Line: v.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Line is the line where the file sets key, or the nearest enclosing key it
// sets ("dnsbl[0]" for "dnsbl[0].codes" when codes is absent); 0 when the
// value is a default.
func (v *validator) Line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := v.lines[k]; ok {
			return l
		}
	}
	return 0
}

// Set reports whether the file sets key itself (not left to its default).
func (v *validator) Set(key string) bool {
	_, ok := v.lines[key]
	return ok
}

// ok reports whether no problem has been found in key or under it; checks
// that combine keys use it to stay quiet about a key already reported.
func (v *validator) ok(key string) bool {
	for _, p := range v.errs.Problems {
		if p.Key == key || strings.HasPrefix(p.Key, key+".") || strings.HasPrefix(p.Key, key+"[") {
			return false
		}
	}
	return true
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// testWeights checks a map of test name -> points under key: every name
// must be one of known's (a typo gets a suggestion, otherwise the list),
// and every value a finite number. what names the area in the message
// ("a test of the message checks").
func (v *validator) testWeights(key, what string, got, known map[string]float64) {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	for name, w := range got {
		k := key + "." + name
		if _, ok := known[name]; !ok {
			msg := "is not " + what
			if s := suggest(name, names); s != "" {
				msg += " (did you mean " + s + "?)"
			} else {
				msg += "; the tests are " + strings.Join(names, ", ")
			}
			v.Errorf(k, "%s", msg)
			continue
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			v.Errorf(k, "must be a number of points, got %v", w)
		}
	}
}
