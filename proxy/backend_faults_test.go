package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"mailguard/filters"
	"mailguard/relay"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailguard/internal/testutil/logbuf"
	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// startProxyTo runs the gateway in front of backend (a host:port the test
// runs, such as a private Postfix).
func startProxyTo(t *testing.T, cfg Config, backend string) *testProxy {
	t.Helper()
	logs := &logbuf.Buffer{}
	if cfg.Chain == nil {
		cfg.Chain = testChain()
	}
	cfg.Backend = backend
	cfg.Hostname = "gw.test"
	cfg.SpoolDir = t.TempDir()
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, addr: l.Addr().String(), logs: logs, log: cfg.Log, done: make(chan error, 1)}
	go func() { tp.done <- p.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.String())
		}
	})
	return tp
}

// TestBackendRefusedDataCommand: Postfix refusing the DATA command itself
// (smtpd_data_restrictions) keeps its transaction open, so the backend
// connection must be reset before it carries the next MAIL FROM; else
// Postfix answers "503 5.5.1 Error: nested MAIL command" and the next,
// innocent message of the session is refused for good.
func TestBackendRefusedDataCommand(t *testing.T) {
	if ok, why := postfixtest.Available(); !ok {
		t.Skip(why)
	}
	rec := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_data_restrictions": "check_sender_access inline:{ refused@example.com=REJECT }",
	}})
	tp := startProxyTo(t, Config{}, pf.Addr)
	c := tp.dial(t)
	defer c.Close()
	if r := c.Send("refused@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code/100 != 5 {
		t.Fatalf("message Postfix refuses at DATA: %s, want 5xx", r)
	}
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Fatalf("next message in the same session: %s, want 250", r)
	}
	msgs := rec.Wait(1, 30*time.Second)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "Subject: hello") {
		t.Errorf("relayed %d messages, want the second one", len(msgs))
	}
}

// scriptedMTA is a backend on 127.0.0.1 that answers as its fields say, to
// play the faults a real MTA rarely shows on demand.
type scriptedMTA struct {
	addr string
	// ehlo are the EHLO keywords offered after the first line.
	ehlo []string
	// xforward answers each XFORWARD line (default 250).
	xforward string
	// atDot is what the backend does after the n-th final dot (from 0):
	// "" answers 250, "close" closes without a reply, "partial"
	// sends the first line of a two-line 250 and closes, "hang" waits
	// for release.
	atDot func(n int) string
	// perConn, when set, is how many messages a connection takes: the
	// command after the last is answered 421 and the connection closed,
	// as an MTA does to an idle client.
	perConn int
	release chan struct{}

	mu        sync.Mutex
	conns     int
	dots      int
	delivered int
	lines     []string
}

func startScripted(t *testing.T, m *scriptedMTA) *scriptedMTA {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = l.Addr().String()
	m.release = make(chan struct{})
	var wg sync.WaitGroup
	var open []net.Conn
	t.Cleanup(func() {
		close(m.release)
		l.Close()
		m.mu.Lock()
		for _, c := range open {
			c.Close()
		}
		m.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.conns++
			open = append(open, c)
			m.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				m.serve(c)
			}()
		}
	}()
	return m
}

func (m *scriptedMTA) serve(c net.Conn) {
	r := bufio.NewReader(c)
	io.WriteString(c, "220 scripted.test ESMTP\r\n")
	taken := 0
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(l, "\r\n")
		m.mu.Lock()
		m.lines = append(m.lines, cmd)
		m.mu.Unlock()
		if m.perConn > 0 && taken == m.perConn {
			io.WriteString(c, "421 4.4.2 scripted.test Error: timeout exceeded\r\n")
			return
		}
		up := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(up, "EHLO"):
			rep := "250-scripted.test"
			for _, k := range m.ehlo {
				rep += "\r\n250-" + k
			}
			io.WriteString(c, rep+"\r\n250 8BITMIME\r\n")
		case strings.HasPrefix(up, "XFORWARD"):
			x := m.xforward
			if x == "" {
				x = "250 2.0.0 Ok"
			}
			io.WriteString(c, x+"\r\n")
		case up == "DATA":
			io.WriteString(c, "354 End data with <CR><LF>.<CR><LF>\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			m.mu.Lock()
			dot := m.dots
			m.dots++
			m.mu.Unlock()
			what := ""
			if m.atDot != nil {
				what = m.atDot(dot)
			}
			switch what {
			case "close":
				return
			case "partial":
				io.WriteString(c, "250-2.0.0 Ok\r\n")
				return
			case "hang":
				<-m.release
				return
			}
			m.mu.Lock()
			m.delivered++
			m.mu.Unlock()
			taken++
			io.WriteString(c, "250 2.0.0 Ok: queued as S1\r\n")
		case up == "QUIT":
			io.WriteString(c, "221 2.0.0 Bye\r\n")
			return
		default:
			io.WriteString(c, "250 2.0.0 Ok\r\n")
		}
	}
}

func (m *scriptedMTA) count() (conns, delivered int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns, m.delivered
}

// TestBackendGoneAtFinalDot: a backend that takes the message and closes
// before its reply to the final dot is done, or never replies within
// data_timeout, leaves the client with a temporary failure, never a 250;
// the session's next message goes over a new connection and is relayed
// once.
func TestBackendGoneAtFinalDot(t *testing.T) {
	for _, what := range []string{"close", "partial", "hang"} {
		t.Run(what, func(t *testing.T) {
			m := startScripted(t, &scriptedMTA{ehlo: []string{"PIPELINING"}, atDot: func(n int) string {
				if n == 0 {
					return what
				}
				return ""
			}})
			tp := startProxyTo(t, Config{DataTimeout: 500 * time.Millisecond}, m.addr)
			c := tp.dial(t)
			defer c.Close()
			before, _ := m.count()
			if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 451 {
				t.Fatalf("backend %s at the final dot: client heard %s, want 451", what, r)
			}
			if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
				t.Fatalf("next message: %s, want 250", r)
			}
			if conns, delivered := m.count(); conns != before+2 || delivered != 1 {
				t.Errorf("backend saw %d new connections and delivered %d messages, want 2 (the first, then a fresh one) and 1", conns-before, delivered)
			}
		})
	}
}

// TestBackendRefusesXForward: a backend that refuses XFORWARD, with or
// without PIPELINING, or answers it in several lines, still gets the
// message, and the conversation stays in step for the next one.
func TestBackendRefusesXForward(t *testing.T) {
	for _, tt := range []struct {
		name     string
		ehlo     []string
		xforward string
	}{
		{"refused, pipelined", []string{"PIPELINING", "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"}, "550 5.7.0 insufficient authorization"},
		{"refused, one at a time", []string{"XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"}, "550 5.7.0 insufficient authorization"},
		{"tempfailed, pipelined", []string{"PIPELINING", "XFORWARD NAME ADDR"}, "421-4.3.0 not now\r\n421 4.3.0 still not"},
		{"multi-line, pipelined", []string{"PIPELINING", "XFORWARD NAME ADDR"}, "250-2.0.0 one\r\n250-2.0.0 two\r\n250 2.0.0 Ok"},
		{"multi-line, one at a time", []string{"XFORWARD NAME ADDR"}, "250-2.0.0 one\r\n250 2.0.0 Ok"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := startScripted(t, &scriptedMTA{ehlo: tt.ehlo, xforward: tt.xforward})
			tp := startProxyTo(t, Config{BackendForward: relay.ForwardXForward}, m.addr)
			c := tp.dial(t)
			defer c.Close()
			for i := range 2 {
				if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
					t.Fatalf("message %d: %s, want 250", i, r)
				}
			}
			if _, delivered := m.count(); delivered != 2 {
				t.Errorf("backend delivered %d messages, want 2", delivered)
			}
			m.mu.Lock()
			sent := strings.Join(m.lines, "\n")
			m.mu.Unlock()
			if n := strings.Count(sent, "\nXFORWARD NAME="); n != 2 {
				t.Errorf("backend got XFORWARD %d times, want once a message:\n%s", n, sent)
			}
		})
	}
}

// TestStalePooledConnection: a pooled backend connection that the backend
// closes with 421 at the next command (after XFORWARD and MAIL FROM went
// out in one write) is replaced at MAIL FROM; every message is delivered
// once.
func TestStalePooledConnection(t *testing.T) {
	m := startScripted(t, &scriptedMTA{ehlo: []string{"PIPELINING", "XFORWARD NAME ADDR"}, perConn: 1})
	tp := startProxyTo(t, Config{BackendForward: relay.ForwardXForward}, m.addr)
	for i := range 3 {
		c := tp.dial(t)
		if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
			t.Fatalf("message %d: %s, want 250", i, r)
		}
		c.Cmd("QUIT")
		c.Close()
		// The session gives its backend connection back before it logs
		// its disconnect.
		for range 500 {
			if strings.Count(tp.logs.String(), "msg=disconnect") > i {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, delivered := m.count(); delivered != 3 {
		t.Errorf("backend delivered %d messages, want 3", delivered)
	}
	if n := strings.Count(tp.logs.String(), "msg=relayed"); n != 3 {
		t.Errorf("%d relayed log lines, want 3", n)
	}
	m.mu.Lock()
	sent := strings.Join(m.lines, "\n")
	m.mu.Unlock()
	// Sessions 2 and 3 each took the pooled connection first.
	if x, mail := strings.Count(sent, "XFORWARD "), strings.Count(sent, "MAIL FROM:"); x != 5 || mail != 3 {
		t.Errorf("backend read %d XFORWARD and %d MAIL FROM, want 5 (two on stale connections) and 3:\n%s", x, mail, sent)
	}
}

// panickyStrip asks for header fields to be stripped by a rule that
// panics, as a filter's bug would.
type panickyStrip struct{}

func (panickyStrip) Name() string { return "panicky-strip" }
func (panickyStrip) CheckMessage(_ context.Context, t *filters.Transaction, _ *filters.Message) filters.Verdict {
	t.StripHeaders(func(name, value string) bool { panic("strip rule bug") })
	return filters.Verdict{}
}

// TestPanicWritingMessage: a panic while the message is written out to
// the backend (a filter's strip rule runs there, on its own goroutine)
// gets the client 451 4.3.0 (an internal error), the backend no message,
// and the gateway goes on serving; it used to end the process.
func TestPanicWritingMessage(t *testing.T) {
	tp := startProxy(t, Config{Chain: testChain(panickyStrip{})}, smtptest.Options{})
	c := tp.dial(t)
	defer c.Close()
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 451 || r.Enhanced != "4.3.0" {
		t.Fatalf("client heard %s, want 451 4.3.0, an internal error", r)
	}
	if !strings.Contains(tp.logs.String(), "strip rule bug") {
		t.Errorf("the panic is not in the log:\n%s", tp.logs.String())
	}
	if n := tp.be.Count(); n != 0 {
		t.Errorf("backend got %d messages, want none", n)
	}
	c2 := tp.dial(t)
	defer c2.Close()
	if r := c2.Cmd("EHLO client.test"); r.Code != 250 {
		t.Errorf("next connection: %s, want 250", r)
	}
}
