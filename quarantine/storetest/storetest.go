// Package storetest is the test suite every quarantine.Store passes: the
// embedded directory store and the shared one run the same cases, so they
// cannot drift apart.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/quarantine"
)

// Run runs the suite; open returns an empty store, closed by the suite.
func Run(t *testing.T, open func(t *testing.T) quarantine.Store) {
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, open(t)) })
	t.Run("ListDelete", func(t *testing.T) { testListDelete(t, open(t)) })
	t.Run("UnknownIDs", func(t *testing.T) { testUnknown(t, open(t)) })
	t.Run("FailedWrite", func(t *testing.T) { testFailedWrite(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, open(t)) })
	t.Run("GivenID", func(t *testing.T) { testGivenID(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("Subjects", func(t *testing.T) { testSubjects(t, open(t)) })
}

// An entry put under the queue id the client was told is found by it in
// any case, and a second Put of that id is refused without touching the
// first.
func testGivenID(t *testing.T, s quarantine.Store) {
	defer s.Close()
	e := put(t, s, quarantine.Entry{ID: "dcf036d5cbda", QueueID: "DCF036D5CBDA"}, sample)
	if e.ID != "DCF036D5CBDA" {
		t.Fatalf("Put under a given id stored it as %q", e.ID)
	}
	for _, id := range []string{"DCF036D5CBDA", "dcf036d5cbda", "DcF036d5CbDa"} {
		got, rc, err := s.Get(context.Background(), id)
		if err != nil {
			t.Errorf("Get(%q): %v", id, err)
			continue
		}
		rc.Close()
		if got.ID != "DCF036D5CBDA" {
			t.Errorf("Get(%q) returned id %q", id, got.ID)
		}
	}
	if _, err := s.Put(context.Background(), quarantine.Entry{ID: "DCF036D5CBDA"}, bytes.NewReader([]byte("Subject: other\r\n\r\nx\r\n"))); !errors.Is(err, quarantine.ErrExists) {
		t.Errorf("second Put of one id: %v, want ErrExists", err)
	}
	got, rc, err := s.Get(context.Background(), "dcf036d5cbda")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != sample || got.Subject != "cheap wätches" {
		t.Errorf("the first entry changed: %q %q", got.Subject, b)
	}
	for _, bad := range []string{"../x", "a b", "x/y", "0123456789012345678901234567890123"} {
		if _, err := s.Put(context.Background(), quarantine.Entry{ID: bad}, bytes.NewReader([]byte(sample))); err == nil {
			t.Errorf("Put under id %q succeeded", bad)
		}
	}
	if err := s.Delete(context.Background(), "dcf036d5cbda"); err != nil {
		t.Errorf("Delete in lower case: %v", err)
	}
}

// Update replaces the entry, not the message.
func testUpdate(t *testing.T, s quarantine.Store) {
	defer s.Close()
	e := put(t, s, quarantine.Entry{Rcpts: []string{"a@example.org"}}, sample)
	e.Release = &quarantine.Release{By: "alice", Pending: []string{"a@example.org"}, Attempts: 2}
	if err := s.Update(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	got, rc, err := s.Get(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if got.Release == nil || got.Release.By != "alice" || got.Release.Attempts != 2 || string(b) != sample {
		t.Errorf("after Update: %+v %q", got.Release, b)
	}
	if err := s.Update(context.Background(), quarantine.Entry{ID: "ABC123"}); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("Update of an unknown id: %v, want ErrNotFound", err)
	}
}

// Subjects are stored as UTF-8 text whatever the message used: encoded
// words of several charsets, raw UTF-8 and raw 8-bit Latin-1.
func testSubjects(t *testing.T, s quarantine.Store) {
	defer s.Close()
	for _, c := range []struct{ raw, want string }{
		{"=?utf-8?q?w=C3=A4tches?=", "wätches"},
		{"=?ISO-8859-1?B?U2No9m4=?= und =?iso-8859-1?q?gr=FCn?=", "Schön und grün"},
		{"=?koi8-r?b?8NLJ18XU?=", "Привет"},
		{"=?utf-8?b?5L2g5aW9?=\r\n =?utf-8?b?5LiW55WM?=", "你好世界"},
		{"caf\xc3\xa9 direct", "café direct"},
		{"caf\xe9 latin-1", "café latin-1"},
		{"=?x-unknown?q?abc?= plain", "=?x-unknown?q?abc?= plain"},
	} {
		e := put(t, s, quarantine.Entry{}, "From: =?utf-8?q?J=C3=B6rg?= <j@example.com>\r\nSubject: "+c.raw+"\r\n\r\nbody\r\n")
		if e.Subject != c.want {
			t.Errorf("subject %q stored as %q, want %q", c.raw, e.Subject, c.want)
		}
		if e.From != "Jörg <j@example.com>" {
			t.Errorf("from stored as %q", e.From)
		}
	}
}

const sample = "Received: from client\r\n" +
	"From: Alice <alice@example.com>\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: cheap =?utf-8?q?w=C3=A4tches?=\r\n" +
	"\r\n" +
	"Buy now.\r\n"

func put(t *testing.T, s quarantine.Store, e quarantine.Entry, msg string) quarantine.Entry {
	t.Helper()
	got, err := s.Put(context.Background(), e, bytes.NewReader([]byte(msg)))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return got
}

func testPutGet(t *testing.T, s quarantine.Store) {
	defer s.Close()
	in := quarantine.Entry{
		QueueID:  "4XyZ12",
		ClientIP: "192.0.2.7",
		Helo:     "client.example.com",
		MailFrom: "alice@example.com",
		Rcpts:    []string{"bob@example.org", "carol@example.org"},
		Score:    12.5,
		Tests:    []filters.Score{{Test: "GTUBE", Points: 1000}, {Test: "SPF_FAIL", Points: 1}},
		Reason:   "score over quarantine threshold",
	}
	stored := put(t, s, in, sample)
	if !quarantine.ValidID(stored.ID) {
		t.Fatalf("Put returned id %q", stored.ID)
	}
	if stored.Time.IsZero() || stored.Size != int64(len(sample)) {
		t.Errorf("Put: time %v size %d, want set and %d", stored.Time, stored.Size, len(sample))
	}
	if stored.From != "Alice <alice@example.com>" || stored.Subject != "cheap wätches" {
		t.Errorf("Put: from %q subject %q", stored.From, stored.Subject)
	}
	e, rc, err := s.Get(context.Background(), stored.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(b) != sample {
		t.Errorf("message changed in store:\n%q\nwant\n%q", b, sample)
	}
	if e.ID != stored.ID || e.QueueID != in.QueueID || e.ClientIP != in.ClientIP || e.Helo != in.Helo ||
		e.MailFrom != in.MailFrom || fmt.Sprint(e.Rcpts) != fmt.Sprint(in.Rcpts) || e.Score != in.Score ||
		fmt.Sprint(e.Tests) != fmt.Sprint(in.Tests) || e.Reason != in.Reason || e.Size != stored.Size ||
		!e.Time.Equal(stored.Time) || e.Subject != stored.Subject {
		t.Errorf("Get entry\n%+v\nwant\n%+v", e, stored)
	}
	// The null sender must survive the round trip as "".
	null := put(t, s, quarantine.Entry{Rcpts: []string{"x@example.org"}}, sample)
	if e, rc, err := s.Get(context.Background(), null.ID); err != nil || e.MailFrom != "" {
		t.Errorf("null sender: %+v %v", e, err)
	} else {
		rc.Close()
	}
}

func testListDelete(t *testing.T, s quarantine.Store) {
	defer s.Close()
	if l, err := s.List(context.Background()); err != nil || len(l) != 0 {
		t.Fatalf("empty store lists %v, %v", l, err)
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for i := range 3 {
		// Stored newest first to show List sorts by time.
		e := put(t, s, quarantine.Entry{Time: base.Add(time.Duration(3-i) * time.Minute), MailFrom: fmt.Sprintf("s%d@example.com", i)}, sample)
		ids = append(ids, e.ID)
	}
	l, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 3 || l[0].ID != ids[2] || l[1].ID != ids[1] || l[2].ID != ids[0] {
		t.Fatalf("List order: %v, want oldest first %v", entryIDs(l), []string{ids[2], ids[1], ids[0]})
	}
	if err := s.Delete(context.Background(), ids[1]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := s.Get(context.Background(), ids[1]); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(context.Background(), ids[1]); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	l, _ = s.List(context.Background())
	if len(l) != 2 || l[0].ID != ids[2] || l[1].ID != ids[0] {
		t.Errorf("List after Delete: %v", entryIDs(l))
	}
}

func testUnknown(t *testing.T, s quarantine.Store) {
	defer s.Close()
	for _, id := range []string{"000000000000", "", "../../etc/pa", "ABCDEF012345", "0123456789abcdef"} {
		if _, _, err := s.Get(context.Background(), id); !errors.Is(err, quarantine.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.Delete(context.Background(), id); !errors.Is(err, quarantine.ErrNotFound) {
			t.Errorf("Delete(%q): %v, want ErrNotFound", id, err)
		}
	}
}

// failing delivers some bytes and then an error, as a client connection
// that drops mid-message would.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.n)
	for i := range n {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func testFailedWrite(t *testing.T, s quarantine.Store) {
	defer s.Close()
	if _, err := s.Put(context.Background(), quarantine.Entry{}, &failing{n: 100 << 10}); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, quarantine.Entry{}, bytes.NewReader([]byte(sample))); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if l, err := s.List(context.Background()); err != nil || len(l) != 0 {
		t.Errorf("failed Puts left entries: %v, %v", entryIDs(l), err)
	}
}

func testConcurrent(t *testing.T, s quarantine.Store) {
	defer s.Close()
	const n = 20
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := s.Put(context.Background(), quarantine.Entry{QueueID: fmt.Sprint(i)}, bytes.NewReader([]byte(sample)))
			if err != nil {
				t.Errorf("Put: %v", err)
				return
			}
			ids <- e.ID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
	if l, _ := s.List(context.Background()); len(l) != n {
		t.Errorf("List has %d entries, want %d", len(l), n)
	}
}

// pattern generates size bytes of message without holding them.
type pattern struct{ left, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(b))
	if n > p.left {
		n = p.left
	}
	for i := range n {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789\r\n"[(p.off+i)%38]
	}
	p.left -= n
	p.off += n
	return int(n), nil
}

// testLarge stores a 20 MB message and checks it was streamed: the memory
// allocated while storing stays far below the message's size.
func testLarge(t *testing.T, s quarantine.Store) {
	defer s.Close()
	const size = 20 << 20
	head := "Subject: big\r\n\r\n"
	src := io.MultiReader(bytes.NewReader([]byte(head)), &pattern{left: size})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := s.Put(context.Background(), quarantine.Entry{}, src)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > size/4 {
		t.Errorf("storing a %d-byte message allocated %d bytes: not streamed", size, alloc)
	}
	t.Logf("storing a %d-byte message allocated %d bytes", size, alloc)
	if e.Size != int64(len(head))+size || e.Subject != "big" {
		t.Errorf("entry size %d subject %q", e.Size, e.Subject)
	}
	_, rc, err := s.Get(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := sha256.New()
	io.Copy(want, io.MultiReader(bytes.NewReader([]byte(head)), &pattern{left: size}))
	got := sha256.New()
	if _, err := io.Copy(got, rc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("large message changed in store")
	}
}

func entryIDs(l []quarantine.Entry) []string {
	var ids []string
	for _, e := range l {
		ids = append(ids, e.ID)
	}
	return ids
}
