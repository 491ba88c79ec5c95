package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config and serve agree on the milter section: what one refuses,
// the other refuses with the same words; what one accepts, serve runs.
func TestMilterConfigAgreement(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml, problem string
	}{
		{"relative socket", "milter:\n  listen: unix:milter.sock\n", `milter.listen: "unix:milter.sock": the socket path must be absolute`},
		{"no port", "milter:\n  listen: 8891\n", `milter.listen: "8891" is not host:port or unix:/path`},
		{"quarantine action", "milter:\n  listen: 127.0.0.1:0\n  quarantine_action: bounce\n", `milter.quarantine_action: must be discard or hold`},
		{"socket mode", "milter:\n  listen: unix:" + dir + "/m.sock\n  socket_mode: rw\n", `milter.socket_mode: "rw" is not an octal permission`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "mailguard.yaml")
			if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\ndata_dir: "+filepath.Join(dir, "data")+"\n"+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"check-config", "serve"} {
				var out, errb bytes.Buffer
				if code := run([]string{cmd, "-config", cfg}, &out, &errb); code != exitUsage {
					t.Fatalf("%s: exit %d, want %d; stderr: %s", cmd, code, exitUsage, errb.String())
				}
				if !strings.Contains(errb.String(), tc.problem) {
					t.Errorf("%s: stderr %q does not say %q", cmd, errb.String(), tc.problem)
				}
			}
		})
	}
}
