package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The web UI without logins would be a locked door nobody has the key of:
// serve refuses to start and says what is missing.
func TestServeWebNeedsUsers(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mailguard.yaml")
	conf := "web:\n  listen: 127.0.0.1:0\nlisten: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-config", cfg}, &out, &errb); code == exitOK {
		t.Fatalf("serve started the web UI without web.users_file")
	}
	if !strings.Contains(errb.String(), "web.users_file is empty") {
		t.Errorf("stderr does not name web.users_file: %q", errb.String())
	}
}
