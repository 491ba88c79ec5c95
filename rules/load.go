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
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse(DefaultsName, nil)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse decodes data (named name in problems) over the defaults and
// validates the result.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	errs := &Errors{}
	d := &decoder{file: name, errs: errs, lines: map[string]int{}}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty: all defaults
	case err != nil:
		errs.add(syntaxProblem(name, err))
		return nil, errs
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			errs.add(Problem{File: name, Line: extra.Line, Msg: "a second YAML document; the configuration is one document"})
		} else if !errors.Is(err, io.EOF) {
			errs.add(syntaxProblem(name, err))
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

	v := &validator{file: name, lines: d.lines, errs: errs}
	validateCore(cfg, v)
	for _, f := range validators {
		f(cfg, v)
	}
	if len(errs.Problems) > 0 {
		errs.sort()
		return nil, errs
	}
	return cfg, nil
}

func syntaxProblem(name string, err error) Problem {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: name, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: name, Msg: "YAML syntax: " + err.Error()}
}
