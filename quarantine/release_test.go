package quarantine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
	"mailguard/quarantine"
)

const heldMsg = "Received: from c.example.com\r\n" +
	"X-Spam-Flag: YES\r\n" +
	"X-Spam-Status: Yes, score=12 required=5\r\n" +
	"\ttests=GTUBE,MISSING_DATE\r\n" +
	"From: s@example.com\r\n" +
	"Subject: hello\r\n" +
	"\r\n" +
	"X-Spam-Flag: YES in the body stays\r\n"

// clock is a settable time for the releaser.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newReleaser(t *testing.T, backend string) (*quarantine.Releaser, *clock) {
	t.Helper()
	s, err := quarantine.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return &quarantine.Releaser{
		Store:      s,
		Deliver:    quarantine.Backend{Addr: backend, Hostname: "mx.example.org", Timeout: 10 * time.Second},
		Retention:  48 * time.Hour,
		RetryFirst: time.Minute,
		RetryMax:   10 * time.Minute,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:        c.now,
	}, c
}

func hold(t *testing.T, r *quarantine.Releaser, at time.Time, id string, size int, rcpts ...string) quarantine.Entry {
	t.Helper()
	msg := heldMsg + strings.Repeat("x", size)
	e, err := r.Store.Put(context.Background(), quarantine.Entry{ID: id, Time: at, MailFrom: "s@example.com", Rcpts: rcpts}, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestReleasedHeaders(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"folded status and flag", heldMsg,
			"Received: from c.example.com\r\nX-Spam-Status: No, score=12 required=5 tests=GTUBE,MISSING_DATE released by alice\r\n" +
				"From: s@example.com\r\nSubject: hello\r\n\r\nX-Spam-Flag: YES in the body stays\r\n"},
		{"bare LF, two of each", "x-spam-flag: YES\nX-Spam-Status: Yes\nX-Spam-Status: No, score=1\nX-Spam-Flag: YES\nA: b\n\nbody\n",
			"X-Spam-Status: No, released by alice\nA: b\n\nbody\n"},
		{"no verdict headers", "A: b\r\n\r\nbody\r\n", "A: b\r\n\r\nbody\r\n"},
		{"no body", "X-Spam-Flag: YES\r\nA: b\r\n", "A: b\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := io.ReadAll(quarantine.Released(strings.NewReader(c.in), "alice"))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("released:\n%q\nwant\n%q", b, c.want)
			}
		})
	}
	b, _ := io.ReadAll(quarantine.Released(strings.NewReader("X-Spam-Status: Yes\r\n\r\n"), "eve\r\nX-Spam-Flag: YES"))
	if bytes.Count(b, []byte("\n")) != 2 {
		t.Errorf("a reviewer name with a line break made a header: %q", b)
	}
}

// A release delivers once to the original recipients with the rewritten
// verdict headers and removes the entry; a second release finds nothing.
func TestReleaseOnce(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	r, c := newReleaser(t, be.Addr)
	e := hold(t, r, c.t, "A1B2C3D4E5F6", 0, "u@example.org", "v@example.org")
	got, err := r.Release(context.Background(), "a1b2c3d4e5f6", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Release.Pending) != 0 || strings.Join(got.Release.Delivered, ",") != "u@example.org,v@example.org" {
		t.Errorf("release %+v", got.Release)
	}
	msgs := be.Messages()
	if len(msgs) != 1 {
		t.Fatalf("backend got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "s@example.com" || strings.Join(m.Rcpts, ",") != "u@example.org,v@example.org" {
		t.Errorf("envelope %s -> %v", m.From, m.Rcpts)
	}
	if h, _, _ := strings.Cut(string(m.Data), "\r\n\r\n"); strings.Contains(h, "X-Spam-Flag") || !strings.Contains(h, "X-Spam-Status: No, score=12 required=5 tests=GTUBE,MISSING_DATE released by alice\r\n") {
		t.Errorf("delivered header:\n%s", h)
	}
	if _, err := r.Release(context.Background(), e.ID, "bob"); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("second release: %v, want ErrNotFound", err)
	}
	if n, _ := r.RetryDue(context.Background()); n != 0 || be.Count() != 1 {
		t.Errorf("retry after delivery: %d attempts, backend has %d messages", n, be.Count())
	}
}

// Backend down, then answering 451, then up: the release is kept and
// retried with growing waits, delivered once when the backend takes it,
// and a second release while it is pending delivers nothing.
func TestReleaseRetries(t *testing.T) {
	down := closedAddr(t)
	r, c := newReleaser(t, down)
	e := hold(t, r, c.t, "", 0, "u@example.org")
	got, err := r.Release(context.Background(), e.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	rel := got.Release
	if strings.Join(rel.Pending, ",") != "u@example.org" || rel.Attempts != 1 || !rel.NextAttempt.Equal(c.t.Add(time.Minute)) || rel.LastError == "" {
		t.Fatalf("after a failed first attempt: %+v", rel)
	}
	if _, err := r.Release(context.Background(), e.ID, "bob"); !errors.Is(err, quarantine.ErrReleased) {
		t.Errorf("release while pending: %v, want ErrReleased", err)
	}
	if n, _ := r.RetryDue(context.Background()); n != 0 {
		t.Errorf("%d attempts before the next attempt was due", n)
	}

	be := smtptest.Start(t, smtptest.Options{})
	be.RefuseData(filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "try later"})
	r.Deliver = quarantine.Backend{Addr: be.Addr, Timeout: 10 * time.Second}
	c.t = c.t.Add(time.Minute)
	if n, _ := r.RetryDue(context.Background()); n != 1 {
		t.Fatalf("%d attempts when due, want 1", n)
	}
	cur, rc, err := r.Store.Get(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if cur.Release.Attempts != 2 || !cur.Release.NextAttempt.Equal(c.t.Add(2*time.Minute)) || !strings.Contains(cur.Release.LastError, "451") {
		t.Errorf("after the 451: %+v", cur.Release)
	}

	be.RefuseData(filters.Reply{})
	c.t = c.t.Add(2 * time.Minute)
	if n, _ := r.RetryDue(context.Background()); n != 1 {
		t.Fatalf("%d attempts when due, want 1", n)
	}
	if be.Count() != 1 {
		t.Fatalf("backend has %d messages, want 1", be.Count())
	}
	if _, _, err := r.Store.Get(context.Background(), e.ID); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("delivered entry still held: %v", err)
	}
	c.t = c.t.Add(time.Hour)
	r.RetryDue(context.Background())
	if be.Count() != 1 {
		t.Errorf("delivered twice")
	}
}

// A recipient refused for good is skipped; one deferred is retried alone.
func TestReleasePartial(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	be.RefuseRcpt("gone@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"})
	r, c := newReleaser(t, be.Addr)
	e := hold(t, r, c.t, "", 0, "u@example.org", "gone@example.org")
	got, err := r.Release(context.Background(), e.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Release.Delivered, ",") != "u@example.org" || len(got.Release.Refused) != 1 || len(got.Release.Pending) != 0 {
		t.Errorf("release %+v", got.Release)
	}
	if m := be.Messages(); len(m) != 1 || strings.Join(m[0].Rcpts, ",") != "u@example.org" {
		t.Errorf("backend got %+v", m)
	}
}

// Retention removes old entries (a pending release is given up); the size
// cap removes the oldest while over it; younger ones stay.
func TestExpire(t *testing.T) {
	r, c := newReleaser(t, closedAddr(t))
	now := c.t
	hold(t, r, now.Add(-49*time.Hour), "", 0, "a@example.org")
	pending := hold(t, r, now.Add(-47*time.Hour), "", 0, "a@example.org")
	if _, err := r.Release(context.Background(), pending.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	mid := hold(t, r, now.Add(-2*time.Hour), "", 1000, "a@example.org")
	young := hold(t, r, now.Add(-time.Hour), "", 1000, "a@example.org")
	r.MaxBytes = mid.Size + young.Size + pending.Size + 10
	if n, err := r.Expire(context.Background()); err != nil || n != 1 {
		t.Fatalf("Expire removed %d (%v), want the one past retention", n, err)
	}
	ids := func() string {
		l, _ := r.Store.List(context.Background())
		var s []string
		for _, e := range l {
			s = append(s, e.ID)
		}
		return strings.Join(s, ",")
	}
	if got, want := ids(), pending.ID+","+mid.ID+","+young.ID; got != want {
		t.Errorf("after retention: %s, want %s", got, want)
	}
	c.t = now.Add(2 * time.Hour) // the pending release's retention ends
	if n, _ := r.RetryDue(context.Background()); n != 0 {
		t.Errorf("retried a release past its retention")
	}
	r.Expire(context.Background())
	if got, want := ids(), mid.ID+","+young.ID; got != want {
		t.Errorf("after the pending release's retention: %s, want %s", got, want)
	}
	r.MaxBytes = young.Size + 10
	if n, _ := r.Expire(context.Background()); n != 1 || ids() != young.ID {
		t.Errorf("size cap: removed %d, left %s, want %s", n, ids(), young.ID)
	}
}
