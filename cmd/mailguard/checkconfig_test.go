package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, "hostname: mx.example.org\ndomains: [example.org]\n")
	cut := filepath.Join(dir, "cut.yaml")
	blank := filepath.Join(dir, "blank.yaml")
	write(cut, "hostname: mx.example.org\ndomains: [example.org]")
	write(blank, "# nothing set yet\n")
	write(bad, "hostname: mx.example.org\nbakend: 127.0.0.1:25\ndnsbl:\n  - zone: zen.spamhaus.org\n    action: rejct\n")

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stdoutHas  string
		stderrHas  []string
		stderrNone bool
	}{
		{name: "defaults", args: nil, code: exitOK, stdout: "configuration OK\n", stderrNone: true},
		{name: "good file", args: []string{"-config", good}, code: exitOK, stdout: "configuration OK\n", stderrNone: true},
		// serve starts with these, a reload refuses them: check-config
		// accepts them and warns in the reload's words.
		{name: "no final line end", args: []string{"-config", cut}, code: exitOK, stdout: "configuration OK\n", stderrHas: []string{"SIGHUP would not reload it: " + cut + " does not end with a line end"}},
		{name: "blank file", args: []string{"-config", blank}, code: exitOK, stdout: "configuration OK\n", stderrHas: []string{"SIGHUP would not reload it: " + blank + " sets no key"}},
		{name: "bad file", args: []string{"-config", bad}, code: exitUsage, stderrHas: []string{
			bad + ":2: bakend: unknown key (did you mean backend?)\n" +
				bad + ":5: dnsbl[0].action: must be reject or score, got \"rejct\"\n",
			"2 problem(s) found",
		}},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "none.yaml")}, code: exitUsage, stderrHas: []string{"none.yaml: no such file or directory"}},
		{name: "extra argument", args: []string{"-config", good, "more"}, code: exitUsage, stderrHas: []string{`unexpected argument "more"`, "usage: mailguard check-config"}},
		{name: "unknown flag", args: []string{"-conf", good}, code: exitUsage, stderrHas: []string{"flag provided but not defined: -conf"}},
		{name: "help", args: []string{"-help"}, code: exitOK, stdoutHas: "usage: mailguard check-config [-config FILE]", stderrNone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"check-config"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if tc.stdoutHas != "" {
				if !strings.Contains(stdout.String(), tc.stdoutHas) {
					t.Errorf("stdout %q lacks %q", stdout.String(), tc.stdoutHas)
				}
			} else if stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if tc.stderrNone && stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
