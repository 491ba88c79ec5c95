package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/logbuf"
	"mailguard/internal/testutil/smtptest"
)

// Test filters: real implementations of the phase interfaces.

// refuseRcpt refuses one recipient.
type refuseRcpt struct{ rcpt string }

func (refuseRcpt) Name() string { return "refuse-rcpt" }
func (f refuseRcpt) CheckRcpt(_ context.Context, _ *filters.Transaction, rcpt string) filters.Verdict {
	if rcpt == f.rcpt {
		return filters.Refuse(filters.ReplyRelayDenied.About(rcpt), "test")
	}
	return filters.Pass()
}

// refuseClient refuses every client at connect.
type refuseClient struct{}

func (refuseClient) Name() string { return "refuse-client" }
func (refuseClient) CheckConnect(_ context.Context, c *filters.ClientConn) filters.Verdict {
	return filters.Refuse(filters.ReplyBlockedClient, "test")
}

// bodyScore scores messages holding a word, and strips X-Strip-Me fields.
type bodyScore struct {
	word   string
	points float64
}

func (bodyScore) Name() string { return "body-score" }
func (f bodyScore) CheckMessage(_ context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	t.StripHeaders(func(name, value string) bool { return strings.EqualFold(name, "X-Strip-Me") && value == "yes" })
	rc, err := m.Open()
	if err != nil {
		return filters.Pass()
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if bytes.Contains(b, []byte(f.word)) {
		return filters.Scored("WORD", f.points, "test")
	}
	return filters.Pass()
}

// connInfo is what a check could read about the client.
type connInfo struct {
	ClientIP netip.Addr
	Helo     string
	ESMTP    bool
	TLS      bool
	AuthUser string
	MayRelay bool
}

// seen records what the chain was told about connections.
type seen struct {
	mu    sync.Mutex
	conns []connInfo
}

func (*seen) Name() string { return "seen" }
func (s *seen) CheckMail(_ context.Context, t *filters.Transaction) filters.Verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, connInfo{ClientIP: t.Conn.ClientIP, Helo: t.Conn.Helo, ESMTP: t.Conn.ESMTP, TLS: t.Conn.TLS, AuthUser: t.Conn.AuthUser, MayRelay: t.Conn.MayRelay()})
	return filters.Pass()
}

func (s *seen) last() connInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return connInfo{}
	}
	return s.conns[len(s.conns)-1]
}

// memHolder keeps held messages in memory, or fails when told to.
type memHolder struct {
	mu   sync.Mutex
	msgs [][]byte
	err  error
}

func (h *memHolder) Hold(_ context.Context, t *filters.Transaction, _ filters.Outcome, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return "", h.err
	}
	h.msgs = append(h.msgs, b)
	return "Q" + t.QueueID, nil
}

func testChain(extra ...filters.Filter) *filters.Chain {
	fs := append([]filters.Filter{refuseRcpt{"relay@elsewhere.test"}, bodyScore{"SPAMWORD", 6}, bodyScore{"QUARANTINEWORD", 11}, bodyScore{"REJECTWORD", 20}}, extra...)
	return filters.NewChain(filters.ChainConfig{Filters: fs, Policy: filters.Policy{Tag: 5, Quarantine: 10, Reject: 15}})
}

type testProxy struct {
	*Proxy
	addr string
	be   *smtptest.Server
	logs *logbuf.Buffer
	log  *slog.Logger
	done chan error
}

// startProxy runs the gateway in front of a recording backend started
// with beOpts.
func startProxy(t *testing.T, cfg Config, beOpts smtptest.Options) *testProxy {
	t.Helper()
	be := smtptest.Start(t, beOpts)
	tp := startProxyTo(t, cfg, be.Addr)
	tp.be = be
	return tp
}

func (tp *testProxy) dial(t *testing.T) *smtptest.Client {
	return smtptest.Dial(t, tp.addr, smtptest.DialOptions{Timeout: 20 * time.Second})
}

var queueIDRe = regexp.MustCompile(`^[0-9A-F]{12}$`)

// endsWithID checks the SPEC's rule: every refusal ends with the queue id.
func endsWithID(t *testing.T, r smtptest.Reply) {
	t.Helper()
	i := strings.LastIndex(r.Text, "queue id ")
	if i < 0 || !queueIDRe.MatchString(r.Text[i+len("queue id "):]) {
		t.Errorf("reply %q does not end with a queue id", r.Text)
	}
}

const plainMsg = "From: a@example.com\r\nTo: u@example.org\r\nSubject: hello\r\n\r\nbody\r\n"

func TestRelayRewritesOnlyTheTop(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	msg := "X-Spam-Status: Yes, score=-100 forged\r\n" +
		"Received: from elsewhere\r\n\tby somewhere; Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
		"From: a@example.com\r\n" +
		"x-spam-flag: NO\r\n" +
		"X-Strip-Me: yes\r\n" +
		"X-Strip-Me: no\r\n" +
		"Subject: =?utf-8?q?caf=C3=A9?= \xc3\xa9 raw 8-bit\r\n" +
		"X-Spam-Report: folded\r\n continuation\r\n" +
		"\r\n" +
		".a line starting with a dot\r\n" +
		"..two dots\r\n" +
		"X-Spam-Status: in the body stays\r\n" +
		"bare LF line\n" +
		"trailing white space \t\r\n" +
		"\xff\xfe binary-ish\r\n"
	r := c.Send("a@example.com", []string{"u@example.org"}, []byte(msg))
	if r.Code != 250 || !strings.HasPrefix(r.Text, "Ok: queued as ") {
		t.Fatalf("DATA: %s", r)
	}
	qid := strings.TrimPrefix(r.Text, "Ok: queued as ")
	if !queueIDRe.MatchString(qid) {
		t.Errorf("queue id %q not in Postfix's form", qid)
	}
	got := tp.be.Messages()
	if len(got) != 1 {
		t.Fatalf("backend got %d messages", len(got))
	}
	data := string(got[0].Data)
	top := "Received: from client.test (unknown [127.0.0.1])\r\n\tby gw.test (mailguard) with ESMTP id " + qid + "\r\n\tfor <u@example.org>; "
	if !strings.HasPrefix(data, top) {
		t.Fatalf("message does not start with this hop's Received:\n%q\nwant prefix\n%q", data[:min(len(data), 300)], top)
	}
	rest := data[strings.Index(data, "\r\n\tfor <u@example.org>; ")+len("\r\n\tfor <u@example.org>; "):]
	dateEnd := strings.Index(rest, "\r\n")
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700 (MST)", rest[:dateEnd]); err != nil {
		t.Errorf("Received date: %v", err)
	}
	rest = rest[dateEnd+2:]
	// The bare LF becomes CRLF on the way to the backend: SMTP has no other
	// line end.
	want := "X-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n" +
		"Received: from elsewhere\r\n\tby somewhere; Thu, 1 Jan 2026 00:00:00 +0000\r\n" +
		"From: a@example.com\r\n" +
		"X-Strip-Me: no\r\n" +
		"Subject: =?utf-8?q?caf=C3=A9?= \xc3\xa9 raw 8-bit\r\n" +
		"\r\n" +
		".a line starting with a dot\r\n" +
		"..two dots\r\n" +
		"X-Spam-Status: in the body stays\r\n" +
		"bare LF line\r\n" +
		"trailing white space \t\r\n" +
		"\xff\xfe binary-ish\r\n"
	if rest != want {
		t.Errorf("relayed message after Received:\n%q\nwant\n%q", rest, want)
	}
	if !strings.Contains(tp.logs.String(), "msg=relayed") || !strings.Contains(tp.logs.String(), "queue_id="+qid) {
		t.Errorf("no relayed log line with the queue id:\n%s", tp.logs.String())
	}
}

func TestTaggedHeaders(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	r := c.Send("a@example.com", []string{"u@example.org", "v@example.org"}, []byte(plainMsg+"SPAMWORD\r\n"))
	if r.Code != 250 {
		t.Fatalf("DATA: %s", r)
	}
	data := string(tp.be.Messages()[0].Data)
	if strings.Contains(data[:strings.Index(data, "X-Spam")], "\tfor <") {
		t.Errorf("Received: names a recipient of a two-recipient message")
	}
	for _, h := range []string{"X-Spam-Status: Yes, score=6.0 required=5.0 tests=WORD=6.0\r\n", "X-Spam-Flag: YES\r\n"} {
		if !strings.Contains(data, h) {
			t.Errorf("relayed message lacks %q:\n%s", h, data)
		}
	}
	if rc := tp.be.Messages()[0].Rcpts; len(rc) != 2 {
		t.Errorf("backend recipients %v", rc)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		setup func(be *smtptest.Server)
		rcpts []string
		msg   string
		phase string // where the refusal comes: RCPT or DATA
		code  int
		enh   string
		text  string // a substring of the reply
	}{
		{name: "chain refuses a recipient", rcpts: []string{"relay@elsewhere.test"}, phase: "RCPT", code: 554, enh: "5.7.1", text: "<relay@elsewhere.test>: Relay access denied"},
		{name: "backend refuses a recipient", setup: func(be *smtptest.Server) {
			be.RefuseRcpt("gone@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "gone: User unknown"})
		}, rcpts: []string{"gone@example.org"}, phase: "RCPT", code: 550, enh: "5.1.1", text: "gone: User unknown"},
		{name: "backend tempfails a recipient", setup: func(be *smtptest.Server) {
			be.RefuseRcpt("busy@example.org", filters.Reply{Code: 450, Enhanced: "4.2.1", Text: "Mailbox busy"})
		}, rcpts: []string{"busy@example.org"}, phase: "RCPT", code: 451, enh: "4.4.1", text: "backend said: 450 4.2.1 Mailbox busy"},
		{name: "too many recipients", cfg: Config{MaxRecipients: 2}, rcpts: []string{"a@example.org", "b@example.org", "c@example.org"}, phase: "RCPT", code: 452, enh: "4.5.3", text: "Too many recipients"},
		{name: "message too big", cfg: Config{MaxMessageBytes: 1000}, msg: plainMsg + strings.Repeat("0123456789\r\n", 200), phase: "DATA", code: 552, enh: "5.3.4", text: "Message size exceeds fixed limit"},
		{name: "score over reject", msg: plainMsg + "REJECTWORD\r\n", phase: "DATA", code: 550, enh: "5.7.1", text: "Message rejected as spam"},
		{name: "backend refuses the message", setup: func(be *smtptest.Server) {
			be.RefuseData(filters.Reply{Code: 554, Enhanced: "5.6.0", Text: "Content refused"})
		}, phase: "DATA", code: 554, enh: "5.6.0", text: "Content refused"},
		{name: "backend tempfails the message", setup: func(be *smtptest.Server) {
			be.RefuseData(filters.Reply{Code: 452, Enhanced: "4.3.1", Text: "Insufficient system storage"})
		}, phase: "DATA", code: 451, enh: "4.4.1", text: "Insufficient system storage"},
		{name: "backend refuses the sender", setup: func(be *smtptest.Server) {
			be.RefuseMail(filters.Reply{Code: 553, Enhanced: "5.7.1", Text: "Sender refused"})
		}, phase: "MAIL", code: 553, enh: "5.7.1", text: "Sender refused"},
		{name: "backend tempfails the sender", setup: func(be *smtptest.Server) {
			be.RefuseMail(filters.Reply{Code: 421, Enhanced: "4.3.2", Text: "Shutting down"})
		}, phase: "MAIL", code: 451, enh: "4.4.1", text: "Backend temporarily unavailable"},
		{name: "backend too slow", cfg: Config{BackendTimeout: 300 * time.Millisecond}, setup: func(be *smtptest.Server) { be.SetDelay(3 * time.Second) },
			phase: "MAIL", code: 451, enh: "4.4.1", text: "Backend temporarily unavailable"},
		{name: "backend down", setup: func(be *smtptest.Server) { be.Stop() }, phase: "MAIL", code: 451, enh: "4.4.1", text: "Backend temporarily unavailable"},
		{name: "client refused at connect", cfg: Config{Chain: testChain(refuseClient{})}, phase: "RCPT", code: 554, enh: "5.7.1", text: "Client host rejected"},
		{name: "quarantine without a holder", msg: plainMsg + "QUARANTINEWORD\r\n", phase: "DATA", code: 451, enh: "4.3.0", text: "Internal error"},
		{name: "holder fails", cfg: Config{Holder: &memHolder{err: errors.New("disk full")}}, msg: plainMsg + "QUARANTINEWORD\r\n", phase: "DATA", code: 451, enh: "4.3.0", text: "Internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startProxy(t, tt.cfg, smtptest.Options{})
			if tt.setup != nil {
				tt.setup(tp.be)
			}
			rcpts := tt.rcpts
			if rcpts == nil {
				rcpts = []string{"u@example.org"}
			}
			msg := tt.msg
			if msg == "" {
				msg = plainMsg
			}
			c := tp.dial(t)
			c.Expect(250, "EHLO client.test")
			var r smtptest.Reply
			phase := "MAIL"
			r = c.Cmd("MAIL FROM:<a@example.com>")
			if r.Code == 250 {
				phase = "RCPT"
				for _, to := range rcpts {
					if r = c.Cmd("RCPT TO:<%s>", to); r.Code != 250 {
						break
					}
				}
				if r.Code == 250 {
					phase = "DATA"
					r = c.Data([]byte(msg))
				}
			}
			if phase != tt.phase || r.Code != tt.code || r.Enhanced != tt.enh || !strings.Contains(r.Text, tt.text) {
				t.Errorf("at %s got %s; want at %s %d %s ...%s...", phase, r, tt.phase, tt.code, tt.enh, tt.text)
			}
			endsWithID(t, r)
			if n := tp.be.Count(); n != 0 {
				t.Errorf("backend got %d messages, want none", n)
			}
			if strings.Contains(tp.logs.String(), "Internal error") && !strings.Contains(tp.logs.String(), "level=ERROR") {
				t.Errorf("an internal error without its detail in the log")
			}
			// The session goes on: once the backend behaves, a new
			// transaction on the same connection goes through.
			c.Expect(250, "RSET")
			if tt.name != "backend down" && tt.name != "client refused at connect" {
				tp.be.RefuseMail(filters.Reply{})
				tp.be.RefuseData(filters.Reply{})
				tp.be.SetDelay(0)
				c.Expect(250, "MAIL FROM:<a@example.com>")
				c.Expect(250, "RCPT TO:<u@example.org>")
				if r := c.Data([]byte(plainMsg)); r.Code != 250 {
					t.Errorf("next transaction: %s", r)
				}
			}
			c.Close()
		})
	}
}

func TestSizeDeclared(t *testing.T) {
	tp := startProxy(t, Config{MaxMessageBytes: 1000}, smtptest.Options{})
	c := tp.dial(t)
	r := c.Cmd("EHLO client.test")
	if !strings.Contains(strings.Join(r.Lines, "\n"), "SIZE 1000") {
		t.Errorf("EHLO does not offer SIZE 1000: %s", r)
	}
	if r := c.Cmd("MAIL FROM:<a@example.com> SIZE=1001"); r.Code != 552 || r.Enhanced != "5.3.4" {
		t.Errorf("MAIL SIZE over the limit: %s", r)
	}
	if r := c.Cmd("MAIL FROM:<a@example.com> SIZE=999"); r.Code != 250 {
		t.Errorf("MAIL SIZE under the limit: %s", r)
	}
}

func TestEHLOKeywords(t *testing.T) {
	for _, utf8 := range []bool{false, true} {
		tp := startProxy(t, Config{}, smtptest.Options{SMTPUTF8: utf8})
		c := tp.dial(t)
		r := c.Cmd("EHLO client.test")
		all := strings.Join(r.Lines, "\n")
		for _, kw := range []string{"PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES"} {
			if !strings.Contains(all, kw) {
				t.Errorf("EHLO lacks %s: %s", kw, all)
			}
		}
		if strings.Contains(all, "SMTPUTF8") != utf8 {
			t.Errorf("backend offers SMTPUTF8 %v; EHLO: %s", utf8, all)
		}
		if strings.Contains(all, "AUTH") || strings.Contains(all, "STARTTLS") {
			t.Errorf("AUTH or STARTTLS offered without TLS configured: %s", all)
		}
		if utf8 {
			c.Expect(250, "MAIL FROM:<dé@example.com> SMTPUTF8")
			c.Expect(250, "RCPT TO:<ü@example.org>")
			if r := c.Data([]byte("Subject: ü\r\n\r\nü\r\n")); r.Code != 250 {
				t.Errorf("SMTPUTF8 message: %s", r)
			} else if m := tp.be.Messages(); !m[0].SMTPUTF8 || m[0].From != "dé@example.com" {
				t.Errorf("backend envelope %+v", m[0])
			}
		}
	}
}

func TestQuarantine(t *testing.T) {
	h := &memHolder{}
	tp := startProxy(t, Config{Holder: h}, smtptest.Options{})
	c := tp.dial(t)
	r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg+"QUARANTINEWORD\r\n"))
	if r.Code != 250 || !strings.Contains(r.Text, "held for review") {
		t.Fatalf("quarantined message: %s", r)
	}
	endsWithID(t, r)
	if tp.be.Count() != 0 {
		t.Errorf("a quarantined message was relayed")
	}
	if len(h.msgs) != 1 || !bytes.HasPrefix(h.msgs[0], []byte("Received: from client.test")) ||
		!bytes.Contains(h.msgs[0], []byte("X-Spam-Status: Yes, score=11.0")) || !bytes.HasSuffix(h.msgs[0], []byte("QUARANTINEWORD\r\n")) {
		t.Errorf("held message:\n%s", h.msgs)
	}
	// The backend transaction was reset: the next message goes through on
	// the same session.
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data([]byte(plainMsg)); r.Code != 250 {
		t.Errorf("message after a quarantined one: %s", r)
	}
}

func TestConnectionLimits(t *testing.T) {
	tp := startProxy(t, Config{MaxConnectionsPerIP: 2, MaxConnections: 3}, smtptest.Options{})
	opts := func(src string) smtptest.DialOptions {
		return smtptest.DialOptions{Source: src, Timeout: 10 * time.Second}
	}
	// Sessions in a transaction are never closed to make room (idle ones
	// are: TestIdleEviction).
	busy := func(src string) *smtptest.Client {
		c := smtptest.Dial(t, tp.addr, opts(src))
		c.Expect(250, "EHLO busy.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		return c
	}
	a := busy("127.0.0.1")
	busy("127.0.0.1")
	third := smtptest.Dial(t, tp.addr, opts("127.0.0.1"))
	if b := third.Banner; b.Code != 421 || b.Enhanced != "4.7.0" || !strings.Contains(b.Text, "from your host") {
		t.Errorf("third connection from one IP: %s", b)
	}
	busy("127.0.0.2")
	fourth := smtptest.Dial(t, tp.addr, opts("127.0.0.3"))
	if b := fourth.Banner; b.Code != 421 || b.Enhanced != "4.7.0" || !strings.Contains(b.Text, "Too many connections") {
		t.Errorf("connection over the total: %s", b)
	}
	// A slot frees when a client leaves.
	a.Close()
	var b smtptest.Reply
	for range 50 {
		c, err := smtptest.DialErr(t, tp.addr, opts("127.0.0.3"))
		if err == nil && c.Banner.Code == 220 {
			b = c.Banner
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.Code != 220 {
		t.Errorf("no slot after a client left")
	}
}

func TestShutdown(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	idle := tp.dial(t)
	idle.Expect(250, "EHLO idle.test")
	busy := tp.dial(t)
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	busy.Expect(250, "RCPT TO:<u@example.org>")
	busy.Expect(354, "DATA")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- tp.Shutdown(ctx)
	}()
	// The idle client is told and let go.
	if r, err := idle.ReadReply(); err != nil || r.Code != 421 || r.Enhanced != "4.3.2" {
		t.Errorf("idle client at shutdown: %v %v", r, err)
	}
	// New clients are not accepted.
	for range 50 {
		if _, err := smtptest.DialErr(t, tp.addr, smtptest.DialOptions{Timeout: time.Second}); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := smtptest.DialErr(t, tp.addr, smtptest.DialOptions{Timeout: time.Second}); err == nil {
		t.Errorf("a connection was accepted during shutdown: %s", c.Banner)
	}
	// The transaction in flight finishes, and is relayed.
	r, err := busy.SendBody([]byte(plainMsg))
	if err != nil || r.Code != 250 {
		t.Fatalf("message in flight at shutdown: %v %v", r, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if tp.be.Count() != 1 {
		t.Errorf("backend got %d messages", tp.be.Count())
	}
	if err := <-tp.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	busy := tp.dial(t)
	busy.Expect(250, "EHLO busy.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := tp.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck transaction: %v", err)
	}
	// The transaction is told, then the connection ends.
	if r, err := busy.ReadReply(); err != nil || r.Code != 451 || r.Enhanced != "4.3.2" {
		t.Errorf("transaction at the shutdown deadline: %s, %v; want 451 4.3.2", r, err)
	}
	if _, err := busy.CmdErr("RCPT TO:<u@example.org>"); err == nil {
		t.Errorf("connection still open after the shutdown deadline")
	}
}

func TestSetChain(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	// A transaction in progress keeps its chain.
	tp.SetChain(testChain(refuseRcpt{"u@example.org"}))
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if r := c.Cmd("RCPT TO:<u@example.org>"); r.Code != 554 {
		t.Errorf("new transaction after SetChain: %s", r)
	}
}

func TestConnInfo(t *testing.T) {
	s := &seen{}
	tp := startProxy(t, Config{Chain: testChain(s)}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "HELO old.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if got := s.last(); got.Helo != "old.test" || got.ESMTP || got.TLS || !got.ClientIP.IsLoopback() {
		t.Errorf("after HELO the chain saw %+v", got)
	}
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Data([]byte(plainMsg))
	if d := string(tp.be.Messages()[0].Data); !strings.Contains(d, "with SMTP id") {
		t.Errorf("HELO session's Received: %q", d[:200])
	}
	c.Expect(250, "EHLO new.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if got := s.last(); got.Helo != "new.test" || !got.ESMTP {
		t.Errorf("after EHLO the chain saw %+v", got)
	}
}

func TestLineTooLong(t *testing.T) {
	tp := startProxy(t, Config{MaxLineLength: 100}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	r := c.Cmd("MAIL FROM:<%s@example.com>", strings.Repeat("a", 200))
	if r.Code != 500 {
		t.Errorf("over-long command: %s", r)
	}
}

func TestQueueIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100000 {
		id := newQueueID()
		if !queueIDRe.MatchString(id) || seen[id] {
			t.Fatalf("queue id %q malformed or repeated", id)
		}
		seen[id] = true
	}
}

// Sessions reuse idle backend connections; one the backend closed meanwhile
// is replaced without the client noticing.
func TestBackendPool(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{IdleTimeout: 300 * time.Millisecond})
	sessions := 0
	send := func() {
		t.Helper()
		c := tp.dial(t)
		if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
			t.Fatalf("send: %s", r)
		}
		c.Close()
		// The session gives its backend connection back before it logs
		// its disconnect.
		sessions++
		for range 500 {
			if strings.Count(tp.logs.String(), "msg=disconnect") >= sessions {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	send()
	before := tp.be.Connections()
	for range 3 {
		send()
	}
	if n := tp.be.Connections() - before; n != 0 {
		t.Errorf("%d new backend connections for 3 sessions in a row, want 0 (pooled)", n)
	}
	time.Sleep(time.Second) // the backend drops the pooled connection
	send()
	if n := tp.be.Count(); n != 5 {
		t.Errorf("backend got %d messages, want 5", n)
	}
}

// go-smtp offers CHUNKING; a message in BDAT chunks is judged and relayed
// like one sent with DATA, and RSET in the middle abandons it.
func TestBDAT(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	first, rest := plainMsg[:20], plainMsg[20:]
	c.Write([]byte(fmt.Sprintf("BDAT %d\r\n%s", len(first), first)))
	if r, _ := c.ReadReply(); r.Code != 250 {
		t.Fatalf("first chunk: %s", r)
	}
	c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(rest), rest)))
	if r, _ := c.ReadReply(); r.Code != 250 || !strings.HasPrefix(r.Text, "Ok: queued as ") {
		t.Fatalf("last chunk: %s", r)
	}
	if m := tp.be.Messages(); len(m) != 1 || !strings.HasSuffix(string(m[0].Data), plainMsg) {
		t.Fatalf("backend got %+v", m)
	}

	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Write([]byte(fmt.Sprintf("BDAT %d\r\n%s", len(first), first)))
	c.ReadReply()
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data([]byte(plainMsg)); r.Code != 250 {
		t.Errorf("message after an abandoned BDAT: %s", r)
	}
	if n := tp.be.Count(); n != 2 {
		t.Errorf("backend got %d messages, want 2", n)
	}
}

// A reload's limits apply to connections accepted after it; its chain to
// every new transaction.
func TestReconfigure(t *testing.T) {
	tp := startProxy(t, Config{MaxRecipients: 3, MaxMessageBytes: 5000}, smtptest.Options{})
	old := tp.dial(t)
	old.Expect(250, "EHLO client.test")

	cfg := Config{Backend: tp.be.Addr, Hostname: "gw2.test", Chain: testChain(refuseRcpt{"x@example.org"}), MaxRecipients: 1, MaxMessageBytes: 2000,
		SpoolDir: t.TempDir(), Log: tp.log}
	if err := tp.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	cur := tp.dial(t)
	if !strings.Contains(cur.Banner.Text, "gw2.test") {
		t.Errorf("banner after reload: %s", cur.Banner)
	}
	r := cur.Cmd("EHLO client.test")
	if !strings.Contains(strings.Join(r.Lines, "\n"), "SIZE 2000") {
		t.Errorf("EHLO after reload: %s", r)
	}
	cur.Expect(250, "MAIL FROM:<a@example.com>")
	cur.Expect(250, "RCPT TO:<u@example.org>")
	if r := cur.Cmd("RCPT TO:<v@example.org>"); r.Code != 452 {
		t.Errorf("second recipient under max_recipients 1: %s", r)
	}

	// The connection from before keeps its limits but gets the new chain.
	old.Expect(250, "MAIL FROM:<a@example.com>")
	old.Expect(250, "RCPT TO:<u@example.org>")
	old.Expect(250, "RCPT TO:<v@example.org>")
	if r := old.Cmd("RCPT TO:<x@example.org>"); r.Code != 554 {
		t.Errorf("old connection, new chain: %s", r)
	}
	if r := old.Data([]byte(plainMsg)); r.Code != 250 {
		t.Errorf("old connection: %s", r)
	}
	if d := string(tp.be.Messages()[0].Data); !strings.Contains(d, "by gw.test ") {
		t.Errorf("old connection's Received: names %q", d[:150])
	}
	// Once the old generation's last connection is gone, only the current
	// one is kept.
	old.Close()
	for range 200 {
		tp.mu.Lock()
		n := len(tp.gens)
		tp.mu.Unlock()
		if n == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("retired generation kept after its last connection closed")
}
