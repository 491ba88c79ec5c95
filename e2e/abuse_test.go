package e2e

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// TestAbuseLimits drives the built binary with the abuse keys set: the
// pregreet test, the error limit and greylisting, each as a client sees it.
func TestAbuseLimits(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{
		"limits":   map[string]any{"greet_delay": "300ms", "max_errors": 3, "soft_errors": 3},
		"greylist": map[string]any{"enabled": true},
	}})

	// Pregreet: 127.0.0.3 talks before the banner's last line.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "220-mx.test") {
		t.Fatalf("banner's first line: %q", line)
	}
	io.WriteString(c, "EHLO eager.test\r\n")
	if rest, _ := io.ReadAll(r); !strings.HasPrefix(string(rest), "554 5.5.1 Protocol error") {
		t.Errorf("client talking first: %q", rest)
	}

	// 127.0.0.2 waits for the banner (smtptest reads it whole).
	cl := g.Dial(smtptest.DialOptions{Source: "127.0.0.2"})
	if cl.Banner.Code != 220 {
		t.Fatalf("patient client: %s", cl.Banner)
	}
	cl.Expect(250, "EHLO client.test")
	cl.Expect(250, "MAIL FROM:<a@example.com>")
	rr := cl.Cmd("RCPT TO:<u@example.org>")
	if rr.Code != 451 || rr.Enhanced != "4.7.1" || !strings.Contains(rr.Text, "Greylisted") {
		t.Errorf("first attempt from an unknown client: %s", rr)
	}
	RequireQueueID(t, rr)
	// Errors: the greylisting 451 was one; two more end the session.
	cl.Cmd("BOGUS")
	if rr := cl.Cmd("GET / HTTP/1.0"); rr.Code < 500 {
		t.Errorf("HTTP request: %s", rr)
	}
	if rr, err := cl.ReadReply(); err != nil || rr.Code != 421 || rr.Enhanced != "4.7.0" {
		t.Errorf("after max_errors: %v %v", rr, err)
	}
	for _, re := range []string{`test=pregreet`, `filter=greylist`, `test=max_errors`} {
		if _, ok := g.WaitLog(re, 10*time.Second); !ok {
			t.Errorf("no log line with %s", re)
		}
	}
	// The relay network (127.0.0.1) is exempt from all of it.
	ok := g.Dial(smtptest.DialOptions{})
	if r := ok.Send("a@example.com", []string{"u@example.org"}, []byte("From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")); r.Code != 250 {
		t.Errorf("relay client: %s", r)
	}
}

// TestIdleEvicted: with every slot taken, the session idle longest is
// closed with 421 so that a new client is served.
func TestIdleEvicted(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"limits": map[string]any{"max_connections": 2, "max_connections_per_ip": 1}}})
	idle := g.DialFrom("127.0.0.4")
	idle.Expect(250, "EHLO idle.test")
	busy := g.DialFrom("127.0.0.5")
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	n := g.DialFrom("127.0.0.6")
	if n.Banner.Code != 220 {
		t.Fatalf("new client with an idle session to close: %s", n.Banner)
	}
	if r, err := idle.ReadReply(); err != nil || r.Code != 421 || r.Enhanced != "4.7.0" {
		t.Errorf("idle session: %v %v", r, err)
	}
	busy.Expect(250, "RCPT TO:<u@example.org>")
}

// TestTricklingMessageCut: a client trickling its message slower than
// limits.min_data_rate is cut with 421 4.4.2 once its time budget is spent
// (here stress_timeout, the only slot being in use), and nothing of the
// message reaches the backend.
func TestTricklingMessageCut(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"limits": map[string]any{
		"max_connections": 1, "max_connections_per_ip": 1, "max_connections_per_network": 1, "stress_timeout": "500ms", "min_data_rate": 100, "greet_delay": "0s"}}})
	// The one slot is free once Start's own connection has ended.
	if _, ok := g.WaitLog(`msg=disconnect `, 30*time.Second); !ok {
		t.Fatalf("Start's connection did not end:\n%s", g.Log())
	}
	c := g.DialFrom("127.0.0.5")
	c.Expect(250, "EHLO slow.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Expect(354, "DATA")
	msg := "From: a@example.com\r\nSubject: slow\r\n\r\n" + strings.Repeat("x", 400)
	r, _, err := c.Trickle([]byte(msg), 50*time.Millisecond, []byte("\r\n.\r\n"))
	if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" || !strings.Contains(r.Text, "too slow") {
		t.Fatalf("trickled message: %v %v; want 421 4.4.2 ... too slow", r, err)
	}
	RequireQueueID(t, r)
	if _, err := c.ReadReply(); err == nil {
		t.Error("session still open after the cut")
	}
	if _, ok := g.WaitLog(`test=min_data_rate`, 10*time.Second); !ok {
		t.Error("no decision line with test=min_data_rate")
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("%d messages reached the backend", n)
	}
}
