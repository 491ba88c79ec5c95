package quarantine_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/quarantine"
	"mailguard/quarantine/storetest"
)

func TestDir(t *testing.T) {
	storetest.Run(t, func(t *testing.T) quarantine.Store {
		s, err := quarantine.OpenDir(filepath.Join(t.TempDir(), "quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A store opened by another process (the operator's command while the
// gateway runs) sees what the first one stored.
func TestDirSharedBetweenOpens(t *testing.T) {
	dir := t.TempDir()
	a, _ := quarantine.OpenDir(dir)
	b, _ := quarantine.OpenDir(dir)
	e, err := a.Put(context.Background(), quarantine.Entry{MailFrom: "x@example.com"}, strings.NewReader("Subject: s\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.List(context.Background())
	if err != nil || len(l) != 1 || l[0].ID != e.ID {
		t.Fatalf("second open lists %v, %v", l, err)
	}
	if err := b.Delete(context.Background(), e.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Get(context.Background(), e.ID); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("deleted through one open, still in the other: %v", err)
	}
}

// Leftovers of interrupted writes are removed on open once stale, and never
// listed; a fresh temporary file may be another process's write in progress
// and stays.
func TestDirCleanup(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	write(".tmp-stale", old)
	write(".tmp-fresh", time.Now())
	write("0123456789ab.eml", old) // message without an entry
	s, err := quarantine.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(context.Background()); len(l) != 0 {
		t.Errorf("leftovers listed: %v", l)
	}
	for name, want := range map[string]bool{".tmp-stale": false, ".tmp-fresh": true, "0123456789ab.eml": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s present=%v, want %v", name, got, want)
		}
	}
}

// An unwritable quarantine fails the Hold, so the front end answers 4xx and
// the client keeps the message. Permissions do not stop root, so the
// directory is also tried replaced by a plain file.
func TestHoldUnwritable(t *testing.T) {
	breakers := map[string]func(dir string){
		"not a directory": func(dir string) {
			os.RemoveAll(dir)
			os.WriteFile(dir, nil, 0o600)
		},
	}
	if os.Geteuid() != 0 {
		breakers["read-only"] = func(dir string) {
			os.Chmod(dir, 0o500)
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
		}
	}
	for name, breakDir := range breakers {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "quarantine")
			s, err := quarantine.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			breakDir(dir)
			conn := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.9"), Helo: "h.example.com"}
			tr := filters.NewTransaction(conn, "Q1")
			if _, err := (quarantine.Holder{Store: s}).Hold(context.Background(), tr, filters.Outcome{}, strings.NewReader("Subject: x\r\n\r\n")); err == nil {
				t.Fatal("Hold into an unwritable directory succeeded")
			}
		})
	}
}

func TestHoldRecordsTransaction(t *testing.T) {
	s, err := quarantine.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conn := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.9"), Helo: "h.example.com"}
	tr := filters.NewTransaction(conn, "Q1")
	tr.MailFrom = "s@example.com"
	tr.Rcpts = []string{"a@example.org", "b@example.org"}
	out := filters.Outcome{Score: 11, Tests: []filters.Score{{Test: "X", Points: 11}}, Verdict: filters.Hold("score over quarantine threshold")}
	msg := "X-Spam-Status: Yes\r\nSubject: hi\r\n\r\nbody\r\n"
	id, err := quarantine.Holder{Store: s}.Hold(context.Background(), tr, out, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	e, rc, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	b.ReadFrom(rc)
	if b.String() != msg {
		t.Errorf("stored %q", b.String())
	}
	if e.ID != "Q1" || e.QueueID != "Q1" || e.ClientIP != "192.0.2.9" || e.Helo != "h.example.com" || e.MailFrom != "s@example.com" ||
		len(e.Rcpts) != 2 || e.Score != 11 || len(e.Tests) != 1 || e.Reason != "score over quarantine threshold" || e.Subject != "hi" {
		t.Errorf("entry %+v", e)
	}
}

// BenchmarkDirPut measures a durable Put of a 10 kB message (two fsyncs of
// files and one of the directory).
func BenchmarkDirPut(b *testing.B) {
	s, err := quarantine.OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	msg := "Subject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 555)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Put(context.Background(), quarantine.Entry{MailFrom: "a@example.com", Rcpts: []string{"b@example.org"}}, strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

// Entries of earlier versions, named by a lower-case random id, are found
// by that id in any case once the store is opened.
func TestDirLegacyLowerCaseIDs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0123456789ab.eml"), []byte("Subject: old\r\n\r\nx\r\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "0123456789ab.json"), []byte(`{"id":"0123456789ab","queue_id":"Q9","rcpts":["a@example.org"],"tests":[{"Test":"X","Points":2}]}`), 0o600)
	s, err := quarantine.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"0123456789ab", "0123456789AB"} {
		e, rc, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		rc.Close()
		if e.ID != "0123456789AB" || len(e.Tests) != 1 || e.Tests[0].Test != "X" || e.Tests[0].Points != 2 {
			t.Errorf("legacy entry read as %+v", e)
		}
	}
	if l, _ := s.List(context.Background()); len(l) != 1 {
		t.Errorf("listed %d entries, want 1", len(l))
	}
}
