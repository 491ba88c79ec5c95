package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A listener this version cannot run must stop serve, not be ignored: an
// operator who set milter.listen would otherwise believe the MTA's mail was
// filtered.
func TestServeRefusesListenersItLacks(t *testing.T) {
	for _, key := range []string{"milter", "metrics"} {
		if hasService(key + ".listen") {
			continue
		}
		t.Run(key, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "mailguard.yaml")
			if err := os.WriteFile(cfg, []byte(key+":\n  listen: 127.0.0.1:0\nlisten: 127.0.0.1:0\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := run([]string{"serve", "-config", cfg}, &out, &errb); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), key+".listen is set, but this version has no such listener") {
				t.Errorf("stderr does not name the key: %q", errb.String())
			}
		})
	}
}
