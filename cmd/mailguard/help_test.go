package main

import (
	"bytes"
	"strings"
	"testing"
)

// Every command answers -help (and -h, --help) alike: its usage on
// stdout, exit 0, nothing else done, no line ending in white space.
func TestEveryCommandHelp(t *testing.T) {
	for name := range commands {
		for _, flag := range []string{"-help", "-h", "--help"} {
			var out, errb bytes.Buffer
			code := run([]string{name, flag}, &out, &errb)
			if code != exitOK || errb.Len() > 0 {
				t.Errorf("%s %s: exit %d, stderr %q", name, flag, code, errb.String())
			}
			if !strings.HasPrefix(out.String(), "usage: mailguard "+name) {
				t.Errorf("%s %s: stdout %q does not start with its usage", name, flag, out.String())
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.TrimRight(l, " \t") != l {
					t.Errorf("%s %s: line with trailing white space: %q", name, flag, l)
				}
			}
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "mailguard ") || errb.Len() > 0 {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"version", "-help"}, &out, &errb); code != exitOK || strings.Contains(out.String(), "mailguard "+version) {
		t.Errorf("version -help: exit %d, stdout %q: want the usage, not the version", code, out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"version", "extra"}, &out, &errb); code != exitUsage || out.Len() > 0 || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
