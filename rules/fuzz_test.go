package rules

import (
	"bytes"
	"errors"
	"testing"

	"mailguard/internal/testutil/seeds"
)

// FuzzParse feeds Parse arbitrary files: it must not panic, and must return
// either a configuration or problems that each name the file, a message and
// a line inside the file.
func FuzzParse(f *testing.F) {
	seeds.AddFiles(f, "testdata/*.yaml")
	for _, s := range []string{
		"", "{}", "- a", "listen: [", "dnsbl:\n  - zone: a.example\n    codes: [127.0.0.2]\n    mask: 4\n",
		"thresholds: {tag: 1e400}", "max_message_bytes: 0x10", "a: &a [*a]", "<<: {listen: ':25'}",
		"limits: {command_timeout: 9999999999h}", "domains: !!binary aGVsbG8=", "? |\n  x\n: y\n",
		"greylist: {enabled: true, only: [no_rdns, score_above: 2, {score_above: x}]}", "greylist: {only: 3}",
		"limits: {greet_delay: 1s, max_errors: 2, soft_errors: 9}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("config %v with error %v", cfg, err)
		}
		if err == nil {
			return
		}
		var errs *Errors
		if !errors.As(err, &errs) || len(errs.Problems) == 0 {
			t.Fatalf("error %T %v is not a list of problems", err, err)
		}
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1 // YAML breaks lines at CR too
		for _, p := range errs.Problems {
			if p.File != "fuzz.yaml" || p.Msg == "" || p.Line < 0 || p.Line > lines {
				t.Errorf("problem %+v (file has %d lines)", p, lines)
			}
		}
	})
}
