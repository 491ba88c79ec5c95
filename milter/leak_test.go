package milter

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	milterlib "github.com/d--j/go-milter"
)

// keepDialer dials TCP and keeps the connections, so a test can cut one as
// an MTA that goes away does, and records what the MTA side wrote.
type keepDialer struct {
	mu    sync.Mutex
	conns []net.Conn
	sent  bytes.Buffer
}

func (d *keepDialer) Dial(network, addr string) (net.Conn, error) {
	c, err := net.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return &recordConn{Conn: c, d: d}, nil
}

// cut closes the last connection without a word.
func (d *keepDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns[len(d.conns)-1].Close()
}

type recordConn struct {
	net.Conn
	d *keepDialer
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.d.sent.Write(p)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

// waitGoroutines waits for the number of goroutines to come back to at
// most n, and fails with their stacks when it does not.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), n, buf)
}

// TestNoLeaks: many connections, each with several messages, an abort, a
// big message spilled to the spool, and then the MTA going away in the
// middle of a message or while the milter is still judging one (its own
// milter timeout): afterwards no goroutine of the sessions is left and the
// spool is empty.
func TestNoLeaks(t *testing.T) {
	h := startHarness(t, "", nil)
	spool := h.spool
	// One session first, so the resolver's and the caches' long-lived
	// goroutines exist before counting.
	warm := h.connect(t, "127.0.0.5", "", "client.test")
	warm.want(warm.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	warm.want(warm.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	warm.data(cleanMsg)
	warm.s.Close()
	waitGoroutines(t, 1<<20)
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	big := cleanMsg + strings.Repeat("a line of the body, long enough to pass the spool's memory\n", 400)
	for i := 0; i < 15; i++ {
		d := &keepDialer{}
		m := h.connectWith(t, h.client(d), "127.0.0.5", "", "client.test")
		for _, msg := range []string{cleanMsg, gtubeMsg, big} {
			m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
			m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
			m.data(msg)
		}
		m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
		m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
		m.abort()
		// The MTA goes away in the middle of a big body.
		m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
		m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
		m.want(m.s.DataStart())("DATA", milterlib.ActionContinue)
		m.want(m.s.HeaderField("From", " a@example.com", nil))("header", milterlib.ActionContinue)
		m.want(m.s.HeaderEnd())("EOH", milterlib.ActionContinue)
		for j := 0; j < 3; j++ {
			m.want(m.s.BodyChunk([]byte(strings.Repeat("x", 60000)+"\r\n")))("body", milterlib.ActionContinue)
		}
		d.cut()
		m.s.Close()
	}

	// The MTA's milter timeout: it gives up while the checks still wait
	// for DNS, and closes the connection.
	h.dns.SetDelay(500 * time.Millisecond)
	impatient := milterlib.NewClient("tcp", h.addr, milterlib.WithReadTimeout(100*time.Millisecond))
	m := h.connectWith(t, impatient, "127.0.0.9", "", "client.test")
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	if act, err := m.s.Rcpt("u@example.org", ""); err == nil {
		if act.Type != milterlib.ActionContinue {
			t.Fatalf("RCPT: %v", act)
		}
		m.want(m.s.DataStart())("DATA", milterlib.ActionContinue)
		if _, err := m.s.HeaderEnd(); err == nil {
			m.s.BodyReadFrom(strings.NewReader("body\r\n"))
		}
	}
	m.s.Close()
	h.dns.SetDelay(0)

	waitGoroutines(t, before)
	for i := 0; i < 100; i++ {
		left, _ := os.ReadDir(spool)
		if len(left) == 0 {
			break
		}
		if i == 99 {
			t.Fatalf("spool holds %d files after every session ended", len(left))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
