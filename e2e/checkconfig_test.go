package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigAgreesWithServe: for each configuration, check-config
// says OK exactly when serve starts, and both name the same problem when
// not (the built binary, as an operator runs it before a restart).
func TestCheckConfigAgreesWithServe(t *testing.T) {
	dir := t.TempDir()
	base := "listen: 127.0.0.1:0\nbackend: 127.0.0.1:25\ndata_dir: " + filepath.Join(dir, "data") + "\ndns: {resolver: '127.0.0.1:53'}\n"
	for _, tc := range []struct {
		name, extra string
		problem     string // "" when good
	}{
		{"milter.listen", "milter: {listen: '127.0.0.1:8891'}\n", "milter.listen: is set, but this version has no such listener"},
		{"web.listen without users", "web: {listen: '127.0.0.1:8080'}\n", "web.users_file: web.listen is set but web.users_file is empty"},
		{"metrics.listen", "metrics: {listen: '127.0.0.1:9100'}\n", "metrics.listen: is set, but this version has no such listener"},
		{"redis store", "store: redis://127.0.0.1:6379/0\n", "store: quarantine: store redis://127.0.0.1:6379/0: the Redis quarantine is not available"},
		{"syntax", "domains: [example.org\n", "YAML syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			WriteConfigRaw(t, path, base+tc.extra)
			out, errCheck, code := Run(t, nil, "check-config", "-config", path)
			if code == 0 && tc.problem != "YAML syntax" {
				// This build has the feature now: serve starts with it,
				// which the feature's own tests cover.
				t.Skipf("check-config accepts %s in this build", tc.name)
			}
			if code != 2 || strings.Contains(out, "configuration OK") || !strings.Contains(errCheck, tc.problem) {
				t.Errorf("check-config: exit %d, stdout %q, stderr %q; want exit 2 naming %q", code, out, errCheck, tc.problem)
			}
			// serve refuses before it listens, so it returns at once.
			_, errServe, code := Run(t, nil, "serve", "-config", path)
			if code != 2 || !strings.Contains(errServe, tc.problem) {
				t.Errorf("serve: exit %d, stderr %q; want exit 2 naming %q", code, errServe, tc.problem)
			}
		})
	}
	path := filepath.Join(dir, "good.yaml")
	WriteConfigRaw(t, path, base+"domains: [example.org]\n")
	if out, errb, code := Run(t, nil, "check-config", "-config", path); code != 0 || out != "configuration OK\n" {
		t.Errorf("good file: exit %d, stdout %q, stderr %q", code, out, errb)
	}
}
