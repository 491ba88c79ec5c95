package proxy

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
	"mailguard/verify"
)

func dialFrom(t *testing.T, tp *testProxy, src string) *smtptest.Client {
	t.Helper()
	return smtptest.Dial(t, tp.addr, smtptest.DialOptions{Source: src, Timeout: 20 * time.Second})
}

// rawDial connects from src without reading anything.
func rawDial(t *testing.T, tp *testProxy, src string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// TestTricklingClientCut: a client sending one byte at a time, each well
// within the command timeout, is cut at the command's deadline, which its
// reads do not move.
func TestTricklingClientCut(t *testing.T) {
	tp := startProxy(t, Config{CommandTimeout: 500 * time.Millisecond}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	type reply struct {
		r   smtptest.Reply
		err error
	}
	got := make(chan reply, 1)
	go func() {
		r, err := c.ReadReply()
		got <- reply{r, err}
	}()
	var rep reply
	answered := false
trickle:
	for range 40 {
		select {
		case rep = <-got:
			answered = true
			break trickle
		case <-time.After(100 * time.Millisecond):
			c.Write([]byte("N"))
		}
	}
	if !answered {
		// Had the reads moved the deadline, the command completes now
		// and is answered as an unknown one.
		c.Write([]byte("\r\n"))
		rep = <-got
	}
	r, err := rep.r, rep.err
	if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" {
		t.Fatalf("trickling client: got %v, %v; want 421 4.4.2 at the command deadline", r, err)
	}
	endsWithID(t, r)
	if !strings.Contains(tp.logs.String(), "test=command_timeout") {
		t.Errorf("no decision line for the cut:\n%s", tp.logs.String())
	}
}

// TestSessionBound: a client that keeps busy with NOOPs is cut when the
// session's length is reached.
func TestSessionBound(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{SessionTimeout: time.Second}}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	for range 100 {
		r, err := c.CmdErr("NOOP")
		if err != nil {
			t.Fatalf("session ended without a reply: %v", err)
		}
		if r.Code == 421 {
			if r.Enhanced != "4.4.2" {
				t.Fatalf("at the session bound: %s", r)
			}
			if !strings.Contains(tp.logs.String(), "test=session_timeout") {
				t.Errorf("no decision line for the cut:\n%s", tp.logs.String())
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("a session of NOOPs outlived the session bound")
}

func TestPerNetworkSlots(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{MaxConnectionsPerNetwork: 2,
		ExemptNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.9.0/24")}}}, smtptest.Options{})
	dialFrom(t, tp, "127.0.0.1")
	dialFrom(t, tp, "127.0.0.2")
	if b := dialFrom(t, tp, "127.0.0.3").Banner; b.Code != 421 || b.Enhanced != "4.7.0" || !strings.Contains(b.Text, "from your host") {
		t.Errorf("third connection from one /24: %s", b)
	}
	if b := dialFrom(t, tp, "127.0.1.1").Banner; b.Code != 220 {
		t.Errorf("connection from another /24: %s", b)
	}
	for i := range 3 {
		if b := dialFrom(t, tp, "127.0.9.1").Banner; b.Code != 220 {
			t.Errorf("exempt connection %d: %s", i, b)
		}
	}
}

// TestExemptAlwaysGetsSlot: with every slot busy in a transaction, a relay
// or allow-listed client still gets in.
func TestExemptAlwaysGetsSlot(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 1, Abuse: Abuse{
		ExemptNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.9.0/24")}}}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO busy.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if b := dialFrom(t, tp, "127.0.0.2").Banner; b.Code != 421 {
		t.Errorf("ordinary client with no slot left: %s", b)
	}
	r := dialFrom(t, tp, "127.0.9.1")
	if r.Banner.Code != 220 {
		t.Fatalf("exempt client with no slot left: %s", r.Banner)
	}
	if got := r.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); got.Code != 250 {
		t.Errorf("exempt client's message: %s", got)
	}
}

// TestIdleEviction: when every slot is taken, the session idle longest is
// closed with 421 and the newcomer is served; a transaction is kept.
func TestIdleEviction(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 3}, smtptest.Options{})
	old := dialFrom(t, tp, "127.0.0.1")
	old.Expect(250, "EHLO old.test")
	busy := dialFrom(t, tp, "127.0.0.2")
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	recent := dialFrom(t, tp, "127.0.0.3")
	recent.Expect(250, "EHLO recent.test")
	n := dialFrom(t, tp, "127.0.0.4")
	if n.Banner.Code != 220 {
		t.Fatalf("newcomer with an idle session to evict: %s", n.Banner)
	}
	r, err := old.ReadReply()
	if err != nil || r.Code != 421 || r.Enhanced != "4.7.0" || !strings.Contains(r.Text, "idle session closed") {
		t.Fatalf("oldest idle session: %v %v", r, err)
	}
	endsWithID(t, r)
	busy.Expect(250, "RCPT TO:<u@example.org>")
	if got := busy.Data([]byte(plainMsg)); got.Code != 250 {
		t.Errorf("the transaction in progress: %s", got)
	}
	recent.Expect(250, "NOOP")
}

// TestStressTimeout: while most slots are in use, a session waiting for a
// command gets the short stress deadline instead of the command timeout.
func TestStressTimeout(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 5, CommandTimeout: time.Hour,
		Abuse: Abuse{StressTimeout: 200 * time.Millisecond}}, smtptest.Options{})
	var cs []*smtptest.Client
	for i := range 4 {
		c := dialFrom(t, tp, "127.0.0."+string(rune('1'+i)))
		c.Expect(250, "EHLO c.test")
		cs = append(cs, c)
	}
	// 4 of 5 slots: under stress. The next command's deadline is short.
	cs[3].Expect(250, "NOOP")
	r, err := cs[3].ReadReply()
	if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" {
		t.Fatalf("idle session under stress: %v %v; want 421 4.4.2", r, err)
	}
}

// TestErrorLimit: unknown commands and HTTP requests count as errors;
// after SoftErrors each error reply is delayed (the tarpit), after
// MaxErrors the session ends with 421 4.7.0.
func TestErrorLimit(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{MaxErrors: 4, SoftErrors: 2, ErrorSleep: time.Millisecond}}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO c.test")
	for _, cmd := range []string{"BOGUS", "GET / HTTP/1.1", "RCPT TO:<u@example.org>"} {
		if r := c.Cmd("%s", cmd); r.Code < 500 {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	c.Expect(250, "NOOP")
	if r := c.Cmd("POST /x HTTP/1.1"); r.Code < 500 {
		t.Fatalf("fourth error: %s", r)
	}
	r, err := c.ReadReply()
	if err != nil || r.Code != 421 || r.Enhanced != "4.7.0" || !strings.Contains(r.Text, "too many errors") {
		t.Fatalf("after MaxErrors: %v %v", r, err)
	}
	if _, err := c.ReadReply(); err == nil {
		t.Error("session still open after the error limit")
	}
	logs := tp.logs.String()
	if n := strings.Count(logs, "msg=tarpit"); n != 2 {
		t.Errorf("%d tarpitted replies, want 2 (errors 3 and 4):\n%s", n, logs)
	}
	if !strings.Contains(logs, "test=max_errors") {
		t.Errorf("no decision line for the error limit:\n%s", logs)
	}
	// Another session starts counting afresh.
	d := dialFrom(t, tp, "127.0.0.1")
	for range 3 {
		d.Cmd("BOGUS")
	}
	d.Expect(250, "NOOP")
}

// TestPregreet: the banner's first line comes at once and its last after
// the delay; a client that talks first is refused with 554 5.5.1 and
// dropped; one that waited is remembered and greeted at once next time.
func TestPregreet(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{GreetDelay: 300 * time.Millisecond}}, smtptest.Options{})
	c, r := rawDial(t, tp, "127.0.0.1")
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "220-gw.test") {
		t.Fatalf("banner's first line: %q", line)
	}
	io.WriteString(c, "EHLO eager.test\r\n")
	rest, _ := io.ReadAll(r)
	if !strings.HasPrefix(string(rest), "554 5.5.1 Protocol error") {
		t.Fatalf("client talking before the banner ended: %q", rest)
	}
	if !strings.Contains(tp.logs.String(), "test=pregreet") {
		t.Errorf("no decision line for the pregreet:\n%s", tp.logs.String())
	}

	c2, r2 := rawDial(t, tp, "127.0.0.2")
	first, _ := r2.ReadString('\n')
	last, _ := r2.ReadString('\n')
	if !strings.HasPrefix(first, "220-") || !strings.HasPrefix(last, "220 ") {
		t.Fatalf("patient client's banner: %q %q", first, last)
	}
	io.WriteString(c2, "QUIT\r\n")
	r2.ReadString('\n')

	// Remembered: a one-line banner, at once.
	_, r3 := rawDial(t, tp, "127.0.0.2")
	if b, _ := r3.ReadString('\n'); !strings.HasPrefix(b, "220 gw.test") {
		t.Errorf("remembered client's banner: %q", b)
	}
	// The eager client was not remembered.
	_, r4 := rawDial(t, tp, "127.0.0.1")
	if b, _ := r4.ReadString('\n'); !strings.HasPrefix(b, "220-") {
		t.Errorf("refused client's next banner: %q", b)
	}
}

// A pregreeter that sends more than the gateway reads (a whole pipelined
// transaction, or a large burst) still reads its 554: closing with unread
// input would reset the connection and lose the reply.
func TestPregreetReplyNotLost(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{GreetDelay: 300 * time.Millisecond}}, smtptest.Options{})
	for i, early := range []string{
		"EHLO early.test\r\nMAIL FROM:<a@b.test>\r\n",
		"EHLO early.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n",
		strings.Repeat("X", 64<<10),
		"GET / HTTP/1.1\r\nHost: gw.test\r\n\r\n",
	} {
		c, r := rawDial(t, tp, fmt.Sprintf("127.0.1.%d", i+1))
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "220-") {
			t.Fatalf("banner's first line: %q", line)
		}
		io.WriteString(c, early)
		// A pipelining client goes on writing before it reads; what it
		// writes after the gateway closed draws a reset, which throws away
		// the reply it has not read yet.
		time.Sleep(200 * time.Millisecond)
		io.WriteString(c, "QUIT\r\n")
		time.Sleep(100 * time.Millisecond)
		rest, err := io.ReadAll(r)
		if !strings.HasPrefix(string(rest), "554 5.5.1 Protocol error") {
			t.Errorf("%.40q before the banner: read %q, %v", early, rest, err)
		}
	}
}

func TestConnectionRate(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{ConnectionRate: 2,
		ExemptNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.9.0/24")}}}, smtptest.Options{})
	for range 2 {
		dialFrom(t, tp, "127.0.0.1").Close()
	}
	b := dialFrom(t, tp, "127.0.0.1").Banner
	if b.Code != 421 || b.Enhanced != "4.7.0" || !strings.Contains(b.Text, "too many connections") {
		t.Errorf("third connection in a minute: %s", b)
	}
	if b := dialFrom(t, tp, "127.0.0.2").Banner; b.Code != 220 {
		t.Errorf("another client: %s", b)
	}
	for range 3 {
		if b := dialFrom(t, tp, "127.0.9.1").Banner; b.Code != 220 {
			t.Errorf("exempt client: %s", b)
		}
	}
}

func TestMessageAndRecipientRates(t *testing.T) {
	tp := startProxy(t, Config{Abuse: Abuse{MessageRate: 2, RecipientRate: 3}}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO c.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u1@example.org>")
	c.Expect(250, "RCPT TO:<u2@example.org>")
	c.Expect(250, "RCPT TO:<u3@example.org>")
	if r := c.Cmd("RCPT TO:<u4@example.org>"); r.Code != 450 || r.Enhanced != "4.7.1" || !strings.Contains(r.Text, "too many recipients") {
		t.Errorf("fourth recipient in an hour: %s", r)
	}
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RSET")
	if r := c.Cmd("MAIL FROM:<a@example.com>"); r.Code != 450 || r.Enhanced != "4.7.1" || !strings.Contains(r.Text, "too many messages") {
		t.Errorf("third message in an hour: %s", r)
	}
	// Another client is counted apart.
	d := dialFrom(t, tp, "127.0.0.2")
	if r := d.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Errorf("another client's message: %s", r)
	}
}

func TestAuthFailureRate(t *testing.T) {
	u, err := LoadUsers(usersFile(t, "alice:"+hash(t, "secret")))
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, Config{TLS: testTLS(t), Users: u, Abuse: Abuse{AuthFailureRate: 2}}, smtptest.Options{})
	wrong := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong"))
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret"))
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO c.test")
	c.StartTLS()
	c.Expect(250, "EHLO c.test")
	for range 2 {
		if r := c.Cmd("AUTH PLAIN %s", wrong); r.Code != 535 {
			t.Fatalf("wrong password: %s", r)
		}
	}
	if r := c.Cmd("AUTH PLAIN %s", plain); r.Code != 421 || r.Enhanced != "4.7.0" || !strings.Contains(r.Text, "AUTH failures") {
		t.Fatalf("AUTH after the failure limit: %s", r)
	}
	if _, err := c.CmdErr("NOOP"); err == nil {
		t.Error("session still open after the AUTH failure limit")
	}
}

// TestSenderHeaderOnMismatch: an authenticated client writing someone
// else's From: has a Sender: naming it in the relayed message.
func TestSenderHeaderOnMismatch(t *testing.T) {
	u, err := LoadUsers(usersFile(t, "alice@example.org:"+hash(t, "secret")))
	if err != nil {
		t.Fatal(err)
	}
	tp := startProxy(t, Config{TLS: testTLS(t), Users: u, Chain: testChain(&verify.SenderID{})}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO c.test")
	c.StartTLS()
	c.Expect(250, "EHLO c.test")
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00secret"))
	c.Expect(235, "AUTH PLAIN %s", plain)
	for _, from := range []string{"alice@example.org", "boss@example.org"} {
		c.Expect(250, "MAIL FROM:<%s>", from)
		c.Expect(250, "RCPT TO:<u@example.org>")
		if r := c.Data([]byte("From: " + from + "\r\nTo: u@example.org\r\nSubject: hi\r\n\r\nbody\r\n")); r.Code != 250 {
			t.Fatalf("message from %s: %s", from, r)
		}
	}
	msgs := tp.be.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages relayed", len(msgs))
	}
	if strings.Contains(string(msgs[0].Data), "\nSender:") {
		t.Errorf("Sender: added to the user's own message:\n%s", msgs[0].Data)
	}
	if !strings.Contains(string(msgs[1].Data), "Sender: alice@example.org\r\n") {
		t.Errorf("no Sender: on a message From: someone else:\n%s", msgs[1].Data)
	}
}

// TestTricklingDataCut: a client trickling its message a byte at a time,
// each byte well within the data timeout, is cut once the message came
// slower than MinDataRate: 421 4.4.2, the session closed, nothing relayed
// and no 250. Under TLS too, where the reply goes through TLS and the rate
// counts the message's bytes, not the records carrying them; and in a BDAT
// chunk.
func TestTricklingDataCut(t *testing.T) {
	for _, mode := range []string{"plain", "tls", "bdat"} {
		t.Run(mode, func(t *testing.T) {
			useTLS := mode == "tls"
			cfg := Config{DataBlockTimeout: 500 * time.Millisecond, Abuse: Abuse{MinDataRate: 100}}
			if useTLS {
				cfg.TLS = testTLS(t)
			}
			tp := startProxy(t, cfg, smtptest.Options{})
			c := dialFrom(t, tp, "127.0.0.1")
			c.Expect(250, "EHLO c.test")
			if useTLS {
				c.StartTLS()
				c.Expect(250, "EHLO c.test")
			}
			c.Expect(250, "MAIL FROM:<a@example.com>")
			c.Expect(250, "RCPT TO:<u@example.org>")
			msg := "Subject: slow\r\n\r\n" + strings.Repeat("x", 400)
			if mode == "bdat" {
				c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n", len(msg))))
			} else {
				c.Expect(354, "DATA")
			}
			// Had the trickle kept its slot, the message ends after it
			// and is answered as any other.
			end := []byte("\r\n.\r\n")
			if mode == "bdat" {
				end = nil
			}
			r, _, err := c.Trickle([]byte(msg), 50*time.Millisecond, end)
			if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" || !strings.Contains(r.Text, "too slow") {
				t.Fatalf("trickling message: got %v, %v; want 421 4.4.2 ... too slow", r, err)
			}
			endsWithID(t, r)
			if r, err := c.ReadReply(); err == nil {
				t.Errorf("session still open after the cut: %s", r)
			}
			if n := tp.be.Count(); n != 0 {
				t.Errorf("%d messages relayed from the cut session", n)
			}
			if logs := tp.logs.String(); !strings.Contains(logs, "test=min_data_rate") {
				t.Errorf("no decision line for the cut:\n%s", logs)
			}
		})
	}
}

// TestIdleEvictionTLS: sessions under TLS, one that said EHLO again and
// one that did not yet, read their 421 when evicted to make room.
func TestIdleEvictionTLS(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 3, TLS: testTLS(t)}, smtptest.Options{})
	ehlo := dialFrom(t, tp, "127.0.0.1")
	ehlo.Expect(250, "EHLO old.test")
	ehlo.StartTLS()
	ehlo.Expect(250, "EHLO old.test")
	bare := dialFrom(t, tp, "127.0.0.2")
	bare.Expect(250, "EHLO bare.test")
	bare.StartTLS()
	busy := dialFrom(t, tp, "127.0.0.3")
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	for i, old := range []*smtptest.Client{ehlo, bare} {
		if b := dialFrom(t, tp, "127.0.0.4").Banner; b.Code != 220 {
			t.Fatalf("newcomer %d with an idle session to evict: %s", i, b)
		}
		r, err := old.ReadReply()
		if err != nil || r.Code != 421 || r.Enhanced != "4.7.0" || !strings.Contains(r.Text, "idle session closed") {
			t.Fatalf("idle TLS session %d: %v %v", i, r, err)
		}
		endsWithID(t, r)
		if _, err := old.ReadReply(); err == nil {
			t.Errorf("evicted TLS session %d still open", i)
		}
	}
	busy.Expect(250, "RCPT TO:<u@example.org>")
	if got := busy.Data([]byte(plainMsg)); got.Code != 250 {
		t.Errorf("the transaction in progress: %s", got)
	}
}

// TestEvictedClientDoesNotEvict: a client whose idle session was closed to
// make room may not close another's when it comes back (it would take the
// next newcomer's room), while a new client still may.
func TestEvictedClientDoesNotEvict(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 2}, smtptest.Options{})
	first := dialFrom(t, tp, "127.0.0.1")
	first.Expect(250, "EHLO first.test")
	second := dialFrom(t, tp, "127.0.0.2")
	second.Expect(250, "EHLO second.test")
	if b := dialFrom(t, tp, "127.0.0.3").Banner; b.Code != 220 {
		t.Fatalf("newcomer with an idle session to evict: %s", b)
	}
	if r, err := first.ReadReply(); err != nil || r.Code != 421 || !strings.Contains(r.Text, "idle session closed") {
		t.Fatalf("oldest idle session: %v %v", r, err)
	}
	// second has been idle long enough by now, but not for the client
	// just evicted.
	if b := dialFrom(t, tp, "127.0.0.1").Banner; b.Code != 421 || !strings.Contains(b.Text, "Too many connections") {
		t.Errorf("evicted client coming back: %s", b)
	}
	second.Expect(250, "NOOP")
	if b := dialFrom(t, tp, "127.0.0.4").Banner; b.Code != 220 {
		t.Errorf("another newcomer: %s", b)
	}
}

// TestPassedClientTakesGreetingSlot: with every slot taken, a client that
// passed the pregreet test before takes the slot of one still taking it,
// which hears 421 instead of its banner's last line.
func TestPassedClientTakesGreetingSlot(t *testing.T) {
	tp := startProxy(t, Config{MaxConnections: 1, Abuse: Abuse{GreetDelay: 300 * time.Millisecond}}, smtptest.Options{})
	// 127.0.0.1 passes once.
	c, r := rawDial(t, tp, "127.0.0.1")
	r.ReadString('\n')
	if last, _ := r.ReadString('\n'); !strings.HasPrefix(last, "220 ") {
		t.Fatalf("banner's last line: %q", last)
	}
	io.WriteString(c, "QUIT\r\n")
	io.ReadAll(r)
	// A new client takes the only slot and the test, with a long delay.
	tp.Reconfigure(Config{Chain: testChain(), Backend: tp.be.Addr, Hostname: "gw.test", MaxConnections: 1,
		Abuse: Abuse{GreetDelay: time.Minute}})
	_, nr := rawDial(t, tp, "127.0.0.2")
	if first, _ := nr.ReadString('\n'); !strings.HasPrefix(first, "220-") {
		t.Fatalf("new client's banner: %q", first)
	}
	if b := dialFrom(t, tp, "127.0.0.1").Banner; b.Code != 220 {
		t.Fatalf("client that passed before, with a client taking the test in the only slot: %s", b)
	}
	if rest, _ := io.ReadAll(nr); !strings.HasPrefix(string(rest), "421 4.7.0") {
		t.Errorf("client taking the test, its slot given away: %q", rest)
	}
}

// TestCommandTimeoutTLS: under TLS the command deadline's 421 goes through
// TLS, with the session's id like every other refusal.
func TestCommandTimeoutTLS(t *testing.T) {
	tp := startProxy(t, Config{CommandTimeout: 300 * time.Millisecond, TLS: testTLS(t)}, smtptest.Options{})
	c := dialFrom(t, tp, "127.0.0.1")
	c.Expect(250, "EHLO c.test")
	c.StartTLS()
	c.Expect(250, "EHLO c.test")
	r, err := c.ReadReply()
	if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" {
		t.Fatalf("silent TLS client: %v %v; want 421 4.4.2", r, err)
	}
	endsWithID(t, r)
	if _, err := c.ReadReply(); err == nil {
		t.Error("session still open after the timeout")
	}
}
