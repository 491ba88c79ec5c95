package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
	"mailguard/verify"
)

// pipeListener hands out one side of a net.Pipe, once.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "127.0.0.9:2525" }

// pipeConn gives the server side of the pipe a client address.
type pipeConn struct{ net.Conn }

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 2525} }

// replyLineRe is one line of a well-formed reply (RFC 5321 section 4.2).
var replyLineRe = regexp.MustCompile(`^[2-5][0-5][0-9]([ -][^\x00-\x1f\x7f]*)?$`)

// backendCommandRe lists the commands the gateway may send the backend.
var backendCommandRe = regexp.MustCompile(`^(EHLO [a-z0-9.-]+|HELO [a-z0-9.-]+|DATA|RSET|QUIT|NOOP)$`)

// FuzzSession runs a whole SMTP session with the client's bytes as the
// fuzzer makes them (commands, message text, pipelining, BDAT), the
// gateway in the middle and a recording backend behind it. Whatever the
// client sends, it gets only well-formed replies, and the backend gets only
// well-formed commands: one path per MAIL/RCPT with the gateway's own
// parameters and nothing else, no bare CR or LF anywhere, message text
// ending only at its final dot.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n",
		"EHLO c.test\r\nMAIL FROM:<\"john smith\"@good.test>\r\nRCPT TO:<\"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x\"@example.org>\r\nDATA\r\n\r\nx\r\n.\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:@other.test:x@example.org\r\nRCPT TO:<@o.test:\"x\"@example.org>\r\nDATA\r\n\r\nx\r\n.\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\r\r\n.\r\nMAIL FROM:<evil@e.test>\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nx\n.\nMAIL FROM:<evil@e.test>\r\nRCPT TO:<v@example.org>\r\nDATA\r\n\r.\r\r\n.\r\n",
		"EHLO c.test\r\nMAIL FROM:<a\x00b@good.test>\r\nMAIL FROM:<a@good.test> SMTPUTF8\r\nRCPT TO:<u@ｅｘａｍｐｌｅ.org>\r\nRCPT TO:<u@exam\u00adple.org>\r\nRCPT TO:<u\rv@example.org>\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<u@example.org>\r\nBDAT 5 LAST\r\nx\r\nyRSET\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@good.test>\r\nRCPT TO:<u@example.org>\r\nDATA\r\n" + strings.Repeat("z", 3000) + "\r\n.\r\nRSET\r\n",
		"HELO c.test\r\nMAIL FROM:<a@good.test> BODY=8BITMIME SIZE=10\r\nRCPT TO:<u@example.org> NOTIFY=NEVER\r\nRSET\r\nNOOP\r\nVRFY x\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		be, err := smtptest.New(smtptest.Options{SMTPUTF8: true})
		if err != nil {
			t.Fatal(err)
		}
		defer be.Stop()
		rl, err := verify.NewRelay(verify.RelayConfig{Domains: []string{"example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Backend: be.Addr, Hostname: "gw.test", Chain: testChain(rl), SpoolDir: t.TempDir(),
			CommandTimeout: time.Second, DataBlockTimeout: time.Second, MaxMessageBytes: 1 << 20,
			// The tarpit still runs, in milliseconds: at its default a
			// session of ten errors takes 15 s, past the fuzzer's 10 s
			// per input, which then reports it as hung.
			Abuse: Abuse{ErrorSleep: time.Millisecond},
			Log:   slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		l := &pipeListener{ch: make(chan net.Conn, 1), done: make(chan struct{})}
		client, server := net.Pipe()
		l.ch <- pipeConn{server}
		served := make(chan struct{})
		go func() { p.Serve(l); close(served) }()

		go func() {
			client.Write(in)
			client.Write([]byte("\r\n.\r\nQUIT\r\n"))
		}()
		var out bytes.Buffer
		io.Copy(&out, client)
		client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p.Shutdown(ctx)
		cancel()
		<-served

		checkReplies(t, out.Bytes())
		for _, raw := range be.Raw() {
			if err := onlyCRLF(raw); err != nil {
				t.Errorf("backend got %v", err)
			}
		}
		for _, line := range be.CommandLines() {
			up := strings.ToUpper(line)
			if strings.HasPrefix(up, "MAIL") || strings.HasPrefix(up, "RCPT") {
				if !backendPathRe.MatchString(line) {
					t.Errorf("backend got a malformed or injected command: %q", line)
				}
			} else if !backendCommandRe.MatchString(line) {
				t.Errorf("backend got an unexpected command: %q", line)
			}
		}
	})
}

// checkReplies fails unless out is a sequence of well-formed reply lines,
// each ending in CRLF and at most 512 octets long (RFC 5321 section
// 4.5.3.1.5).
func checkReplies(t *testing.T, out []byte) {
	t.Helper()
	if len(out) == 0 {
		t.Fatal("no reply at all")
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Errorf("reply stream ends mid-line: %q", out[max(0, len(out)-80):])
	}
	if err := onlyCRLF(out); err != nil {
		t.Errorf("reply stream: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		if len(line)+2 > 512 {
			t.Errorf("reply line of %d octets: %.80q...", len(line)+2, line)
		}
		if !replyLineRe.MatchString(line) {
			t.Errorf("malformed reply line %q", line)
		}
	}
}
