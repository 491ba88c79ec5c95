package milter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	milterlib "github.com/d--j/go-milter"
)

// TestUnixSocket: unix:/path listens with the configured permission,
// replaces a socket a previous run left behind, refuses to take over a
// live one or any other file, and serves the MTA as TCP does.
func TestUnixSocket(t *testing.T) {
	h := startHarness(t, "", nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "milter.sock")

	stale, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed process leaves its socket file behind.
	stale.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	stale.Close()

	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v mode %v; want a socket with 0660", err, fi.Mode())
	}
	if _, err := Listen("unix:"+path, 0o660); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second listener on a live socket: %v; want refused", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Listen("unix:"+file, 0o660); err == nil {
		t.Errorf("Listen replaced a regular file")
	}
	if _, err := Listen("unix:relative.sock", 0o660); err == nil {
		t.Errorf("Listen took a relative path")
	}

	go h.srv.Serve(l)
	c := milterlib.NewClient("unix", path)
	m := h.connectWith(t, c, "127.0.0.5", "", "client.test")
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	_, act := m.data(gtubeMsg)
	wantReply(t, "GTUBE over the unix socket", act, 550, "5.7.1 Message rejected as spam")
}
