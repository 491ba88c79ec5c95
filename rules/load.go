package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultsName is the file name problems with the built-in defaults are
// reported under.
const DefaultsName = "(built-in defaults)"

// Load reads and validates the configuration file at path; "" means the
// built-in defaults (validated too, as the host name comes from the
// machine). A problem with the configuration comes back as *Errors listing
// all of them; a file that cannot be read as a plain error.
//
// Load keeps no state between calls, so a running server may call it again
// (on SIGHUP) and swap in the result only when it succeeds.
//
// checks are run after the package's own, with the same reporting: a
// program adds what only it knows (which listeners this build can run).
func Load(path string, checks ...Check) (*Config, error) {
	if path == "" {
		return Parse(DefaultsName, nil, checks...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, checks...)
}

// Check is a validation a program adds to Load's. It reports each problem
// with r.Errorf(key, ...), which places it at the key's line.
type Check func(cfg *Config, r Reporter)

// Reporter receives the problems a Check finds.
type Reporter interface {
	Errorf(key, format string, args ...any)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes data (named name in problems) over the defaults and
// validates the result, with checks added to the package's own.
func Parse(name string, data []byte, checks ...Check) (*Config, error) {
	cfg := Default()
	errs := &Errors{}
	d := &decoder{file: name, errs: errs, lines: map[string]int{}, bad: map[string]bool{}}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty: all defaults
	case err != nil:
		errs.add(syntaxProblem(name, data, err))
		return nil, errs
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			errs.add(Problem{File: name, Line: extra.Line, Msg: "a second YAML document; the configuration is one document"})
		} else if !errors.Is(err, io.EOF) {
			errs.add(syntaxProblem(name, data, err))
		}
		if len(doc.Content) > 0 {
			root := doc.Content[0]
			switch {
			case isNull(root):
			case root.Kind != yaml.MappingNode:
				errs.add(Problem{File: name, Line: root.Line, Msg: "the configuration must be a mapping of keys (key: value), got " + describe(root)})
			default:
				d.decode(root, reflect.ValueOf(cfg).Elem(), "")
			}
		}
	}

	v := &validator{file: name, lines: d.lines, bad: d.bad, errs: errs}
	validateCore(cfg, v)
	for _, f := range validators {
		f(cfg, v)
	}
	for _, c := range checks {
		c(cfg, v)
	}
	if len(errs.Problems) > 0 {
		errs.sort()
		return nil, errs
	}
	return cfg, nil
}

// syntaxProblem places a YAML syntax error. The library's line is that of
// the enclosing collection for parser errors (the top-level mapping, often
// line 1), so the line is found again: the first prefix of the file that
// fails with the same message ends on the faulty line.
func syntaxProblem(name string, data []byte, err error) Problem {
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) <= 5000 {
		var prefix []byte
		for i, l := range lines {
			prefix = append(prefix, l...)
			var n yaml.Node
			perr := yaml.Unmarshal(prefix, &n)
			if perr == nil {
				continue
			}
			if pm := yamlLine.FindStringSubmatch(perr.Error()); (pm != nil && pm[2] == msg) || perr.Error() == err.Error() {
				line = i + 1
				break
			}
		}
	}
	return Problem{File: name, Line: line, Msg: "YAML syntax: " + msg}
}
