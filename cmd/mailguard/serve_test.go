package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What serve refuses, check-config refuses, with the same words: both run
// loadConfig. A listener this version cannot run must stop serve, not be
// ignored: an operator who set milter.listen would otherwise believe the
// MTA's mail was filtered; the same for a store it cannot open.
func TestServeAndCheckConfigRefuseAlike(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string // in both commands' stderr
		key        string // a listener: valid once this build registers it
	}{
		{"milter", "listen: 127.0.0.1:0\nmilter:\n  listen: 127.0.0.1:0\n", ":3: milter.listen: is set, but this version has no such listener", "milter.listen"},
		{"web", "listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\n", ":3: web.listen: is set, but this version has no such listener", "web.listen"},
		{"metrics", "listen: 127.0.0.1:0\nmetrics: {listen: '127.0.0.1:0'}\n", ":2: metrics.listen: is set, but this version has no such listener", "metrics.listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != "" && hasService(tc.key) {
				t.Skipf("this build runs %s", tc.key)
			}
			dir := t.TempDir()
			cfg := filepath.Join(dir, "mailguard.yaml")
			text := tc.yaml + "data_dir: " + filepath.Join(dir, "data") + "\n"
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			var problems []string
			for _, cmd := range []string{"check-config", "serve"} {
				var out, errb bytes.Buffer
				if code := run([]string{cmd, "-config", cfg}, &out, &errb); code != exitUsage {
					t.Fatalf("%s: exit %d, want %d; stdout %q stderr %q", cmd, code, exitUsage, out.String(), errb.String())
				}
				if !strings.Contains(errb.String(), cfg+tc.want) {
					t.Errorf("%s: stderr %q lacks %q", cmd, errb.String(), cfg+tc.want)
				}
				if strings.Contains(out.String(), "configuration OK") {
					t.Errorf("%s said OK", cmd)
				}
				problems = append(problems, strings.SplitN(errb.String(), "\n", 2)[0])
			}
			if problems[0] != problems[1] {
				t.Errorf("check-config says %q, serve %q", problems[0], problems[1])
			}
		})
	}
}

// A Redis store is accepted by check-config (serve builds the same way).
func TestCheckConfigAcceptsRedisStore(t *testing.T) {
	for _, store := range []string{"redis://127.0.0.1:6379/0", "rediss://:pw@[::1]:7000/3", "redis://s1:26379/0?master_name=mx&addr=s2:26379"} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "mailguard.yaml")
		text := "listen: 127.0.0.1:0\nstore: '" + store + "'\ndata_dir: " + filepath.Join(dir, "data") + "\n"
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := run([]string{"check-config", "-config", cfg}, &out, &errb); code != exitOK {
			t.Errorf("%s: exit %d; stderr %q", store, code, errb.String())
		}
	}
}
