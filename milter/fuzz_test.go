package milter

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailguard/internal/testutil/seeds"
)

var updateSeeds = flag.Bool("update-seeds", false, "record the fuzz seeds in testdata/seeds from Go client sessions")

// pipeListener hands out one end of a net.Pipe, then waits to be closed.
type pipeListener struct {
	c    chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// closeSignal tells when the library has closed its end of the pipe, which
// it does after the session's Cleanup.
type closeSignal struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// FuzzSession feeds a milter session arbitrary packet sequences, as an MTA
// gone wrong (or a stranger on the milter port) could send: the session
// never panics, always ends when the peer closes, and leaves no session
// open and nothing in the spool.
func FuzzSession(f *testing.F) {
	seeds.AddFiles(f, "testdata/seeds/*")
	f.Add([]byte{0, 0, 0, 1, 'O'})
	f.Add([]byte{0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff, 0, 0, 0, 2, 'Q'})
	h := startHarness(f, "", nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		sig := &closeSignal{Conn: server, closed: make(chan struct{})}
		l := &pipeListener{c: make(chan net.Conn, 1), done: make(chan struct{})}
		l.c <- sig
		served := make(chan error, 1)
		go func() { served <- h.srv.Serve(l) }()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-sig.closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("the session did not end after its peer closed")
		}
		l.Close()
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve: %v", err)
		}
		if n := h.srv.open.Load(); n != 0 {
			t.Fatalf("%d sessions still open", n)
		}
		if left, _ := os.ReadDir(h.spool); len(left) != 0 {
			t.Fatalf("spool holds %d files", len(left))
		}
	})
}

// TestRecordSeeds writes the bytes Go client sessions send (the cases of
// the other tests) as fuzz seeds, with -update-seeds.
func TestRecordSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("records the fuzz seeds with -update-seeds")
	}
	h := startHarness(t, "", nil)
	dir := filepath.Join("testdata", "seeds")
	os.MkdirAll(dir, 0o755)
	record := func(name string, run func(m *mta)) {
		d := &keepDialer{}
		m := h.connectWith(t, h.client(d), "127.0.0.5", "", "client.test")
		run(m)
		m.s.Close()
		if err := os.WriteFile(filepath.Join(dir, name), d.sent.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, msg := range []string{cleanMsg, gtubeMsg, twoFromMsg} {
		record(fmt.Sprintf("message-%d", i), func(m *mta) {
			m.mail("a@example.com", "SIZE=100", "")
			m.rcpt("u@example.org")
			m.data(msg)
		})
	}
	record("abort", func(m *mta) {
		m.mail("a@example.com", "", "alice")
		m.rcpt("u@elsewhere.test")
		m.abort()
		m.mail("a@example.com", "", "")
	})
}
