package smtp

// Tests of the changes carried on top of the v0.25.1 release; each fails on
// the release.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestDataReaderEndsOnlyAtCRLFDotCRLF(t *testing.T) {
	tests := []struct {
		in, msg, rest string
	}{
		{"a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n"},
		// Stray CRs before the CRLF that precedes the dot.
		{"a\r\r\n.\r\nQUIT\r\n", "a\r\r\n", "QUIT\r\n"},
		{"a\r\r\r\n.\r\nQUIT\r\n", "a\r\r\r\n", "QUIT\r\n"},
		{"\r\r\n.\r\nQUIT\r\n", "\r\r\n", "QUIT\r\n"},
		// Smuggling forms are message text.
		{"a\n.\nb\r\n.\r\nQUIT\r\n", "a\n.\nb\r\n", "QUIT\r\n"},
		{"a\n.\r\nb\r\n.\r\nQUIT\r\n", "a\n.\r\nb\r\n", "QUIT\r\n"},
		{"a\r.\rb\r\n.\r\nQUIT\r\n", "a\r.\rb\r\n", "QUIT\r\n"},
		{"a\r\n.\nb\r\n.\r\nQUIT\r\n", "a\r\n\nb\r\n", "QUIT\r\n"},
		{"a\r\n.\rb\r\n.\r\nQUIT\r\n", "a\r\n\rb\r\n", "QUIT\r\n"},
		{"a\r\n.\r\rb\r\n.\r\nQUIT\r\n", "a\r\n\r\rb\r\n", "QUIT\r\n"},
		{"a\r\n.\r\r\n.\r\nQUIT\r\n", "a\r\n\r\r\n", "QUIT\r\n"},
		// Transparency dots.
		{"..a\r\n..\r\n.\r\n", ".a\r\n.\r\n", ""},
	}
	for _, tc := range tests {
		br := bufio.NewReader(strings.NewReader(tc.in))
		r := &dataReader{r: br}
		// One byte at a time exercises the held CR across reads.
		for _, size := range []int{1, 4096} {
			br = bufio.NewReader(strings.NewReader(tc.in))
			r = &dataReader{r: br}
			var got []byte
			buf := make([]byte, size)
			var err error
			for err == nil {
				var n int
				n, err = r.Read(buf)
				got = append(got, buf[:n]...)
			}
			if err != io.EOF || string(got) != tc.msg {
				t.Errorf("%q (reads of %d): message %q, %v; want %q", tc.in, size, got, err, tc.msg)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("%q: after the data %q; want %q", tc.in, rest, tc.rest)
			}
		}
	}
}

func TestParseForwardPath(t *testing.T) {
	tests := []struct {
		in, path, route, rest string
		bad                   bool
	}{
		{in: "<Postmaster>", path: "Postmaster"},
		{in: "<postmaster>", path: "postmaster"},
		{in: "<POSTMASTER> NOTIFY=NEVER", path: "POSTMASTER", rest: " NOTIFY=NEVER"},
		{in: "<postmaster@example.org>", path: "postmaster@example.org"},
		{in: "<@a.test,@b.test:u@c.test>", path: "u@c.test", route: "a.test,@b.test"},
		{in: "@a.test:u@c.test", path: "u@c.test", route: "a.test"},
		{in: `<@a.test:"u"@c.test>`, path: "u@c.test", route: "a.test"},
		{in: "postmaster", path: "postmaster"},
		{in: "Postmaster NOTIFY=NEVER", path: "Postmaster", rest: " NOTIFY=NEVER"},
		{in: "postmasterx", bad: true},
		{in: "<postmasterx>", bad: true},
		{in: "<postmaster", bad: true},
	}
	for _, tc := range tests {
		p := parser{s: tc.in}
		path, err := p.parseForwardPath()
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %q; want an error", tc.in, path)
			}
			continue
		}
		if err != nil || path != tc.path || p.route != tc.route || p.s != tc.rest {
			t.Errorf("%q: %q route %q rest %q (%v); want %q route %q rest %q", tc.in, path, p.route, p.s, err, tc.path, tc.route, tc.rest)
		}
	}
	// MAIL FROM has no such exception.
	p := parser{s: "<postmaster>"}
	if _, err := p.parseReversePath(); err == nil {
		t.Error("MAIL FROM:<postmaster> parsed")
	}
}

// TestClientResetKeepsHello: RSET does not undo EHLO (RFC 5321 section
// 4.1.1.5), so the client must not say EHLO again after it.
func TestClientResetKeepsHello(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	errc := make(chan error, 1)
	go func() {
		r := bufio.NewReader(sc)
		io.WriteString(sc, "220 x ESMTP\r\n")
		helos := 0
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				errc <- nil
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(l))
			switch {
			case strings.HasPrefix(cmd, "EHLO"):
				if helos++; helos > 1 {
					io.WriteString(sc, "503 5.5.1 Duplicate HELO/EHLO\r\n")
					continue
				}
				io.WriteString(sc, "250-x\r\n250 PIPELINING\r\n")
			case cmd == "QUIT":
				io.WriteString(sc, "221 bye\r\n")
				errc <- nil
				return
			default:
				io.WriteString(sc, "250 ok\r\n")
			}
		}
	}()
	c := NewClient(cc)
	if err := c.Hello("gw.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@b.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@b.test", nil); err != nil {
		t.Fatalf("MAIL after RSET: %v", err)
	}
	c.Quit()
	<-errc
}

func TestHelloArgumentControls(t *testing.T) {
	for _, arg := range []string{"a\fb", "a\x00", "\rx", "x\x7f"} {
		if d, err := parseHelloArgument(arg); err == nil {
			t.Errorf("HELO %q accepted as %q", arg, d)
		}
	}
	if d, err := parseHelloArgument("mx.example.org extra"); err != nil || d != "mx.example.org" {
		t.Errorf("plain HELO: %q, %v", d, err)
	}
}

// TestDataErrorToStatusWrapped: an SMTPError wrapped in another error (a
// reader's error that is also a net.Error, so crypto/tls passes it on) is
// still the reply, not "554 5.0.0 Error: transaction failed".
func TestDataErrorToStatusWrapped(t *testing.T) {
	want := &SMTPError{Code: 421, EnhancedCode: EnhancedCode{4, 4, 2}, Message: "too slow"}
	c := &Conn{server: NewServer(nil)}
	r := c.dataStatus(fmt.Errorf("chunk: %w", want))
	if r.Code != 421 || r.EnhancedCode != want.EnhancedCode || r.Text != "too slow" {
		t.Errorf("got %v, want the wrapped reply", r)
	}
}

// A slow client's text is handed on as it comes: the reader does not wait
// for a full buffer while the client waits for nothing, which would hide
// the bytes from a data-rate bound and hold them from the backend.
func TestDataReaderReturnsWhatCame(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go client.Write([]byte("Subject: slow\r\n\r\nfirst"))
	r := &dataReader{r: bufio.NewReader(server)}
	// The deadline only keeps a regression from hanging the test: the
	// release's reader blocks for more and returns the timeout with its bytes.
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	var got []byte
	for len(got) < len("Subject: slow\r\n\r\nfirst") {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("after %q: %v (the reader waited for more than the client sent)", got, err)
		}
	}
	if string(got) != "Subject: slow\r\n\r\nfirst" {
		t.Errorf("got %q", got)
	}
	go client.Write([]byte(" second\r\n.\r\n"))
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != " second\r\n" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

// TestClientCommand: a command of the caller's goes through the client's
// buffered reader and writer, its reply is returned whatever its code, a
// multi-line one whole, and the commands after it read their own replies;
// a line holding CR or LF is not sent.
func TestClientCommand(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	got := make(chan []string, 1)
	go func() {
		var lines []string
		defer func() { got <- lines }()
		r := bufio.NewReader(sc)
		io.WriteString(sc, "220 x ESMTP\r\n")
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimRight(l, "\r\n")
			lines = append(lines, cmd)
			switch {
			case strings.HasPrefix(cmd, "EHLO"):
				io.WriteString(sc, "250-x\r\n250 XFORWARD NAME ADDR\r\n")
			case cmd == "XFORWARD NAME=bad":
				io.WriteString(sc, "550-5.5.1 first line\r\n550 5.5.1 refused\r\n")
			case cmd == "QUIT":
				io.WriteString(sc, "221 bye\r\n")
				return
			default:
				io.WriteString(sc, "250 2.0.0 Ok\r\n")
			}
		}
	}()
	c := NewClient(cc)
	if err := c.Hello("gw.test"); err != nil {
		t.Fatal(err)
	}
	if code, msg, err := c.Command("XFORWARD NAME=good ADDR=192.0.2.1"); err != nil || code != 250 || msg != "2.0.0 Ok" {
		t.Errorf("XFORWARD: %d %q %v, want 250 \"2.0.0 Ok\"", code, msg, err)
	}
	if code, msg, err := c.Command("XFORWARD NAME=bad"); err != nil || code != 550 || msg != "5.5.1 first line\n5.5.1 refused" {
		t.Errorf("refused XFORWARD: %d %q %v, want 550 and both lines", code, msg, err)
	}
	for _, bad := range []string{"XFORWARD NAME=a\r\nRCPT TO:<x@y.test>", "XFORWARD NAME=a\nQUIT", "NOOP\r"} {
		if _, _, err := c.Command(bad); err == nil {
			t.Errorf("Command(%q) sent", bad)
		}
	}
	if err := c.Mail("a@b.test", nil); err != nil {
		t.Fatalf("MAIL after Command: %v", err)
	}
	c.Quit()
	want := []string{"EHLO gw.test", "XFORWARD NAME=good ADDR=192.0.2.1", "XFORWARD NAME=bad", "MAIL FROM:<a@b.test>", "QUIT"}
	if lines := <-got; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("server read %q, want %q", lines, want)
	}
}

// countingConn counts the writes made on a connection.
type countingConn struct {
	net.Conn
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.Conn.Write(p)
}

// TestClientMessageOneWrite: a 10 KB message and its final dot leave in
// one write, not one per 4 KiB.
func TestClientMessageOneWrite(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() {
		r := bufio.NewReader(sc)
		io.WriteString(sc, "220 x ESMTP\r\n")
		inData := false
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case inData && l == ".\r\n":
				inData = false
				io.WriteString(sc, "250 2.0.0 queued\r\n")
			case inData:
			case strings.HasPrefix(l, "EHLO"):
				io.WriteString(sc, "250-x\r\n250 PIPELINING\r\n")
			case strings.HasPrefix(l, "DATA"):
				inData = true
				io.WriteString(sc, "354 go on\r\n")
			default:
				io.WriteString(sc, "250 ok\r\n")
			}
		}
	}()
	conn := &countingConn{Conn: cc}
	c := NewClient(conn)
	defer c.Close()
	if err := c.Hello("gw.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@b.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("c@d.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	before := conn.writes
	msg := strings.Repeat("Subject: a line of a message of ten kilobytes\r\n", 10240/48)
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := conn.writes - before; n != 1 {
		t.Errorf("a %d-byte message took %d writes, want 1", len(msg), n)
	}
}

// TestClientMailAfter: lines of the caller's go out with MAIL in one write
// to a server offering PIPELINING, and each reply is read in its turn,
// refusals included; MAIL's own refusal is Mail's error.
func TestClientMailAfter(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		cc, sc := net.Pipe()
		got := make(chan []string, 1)
		go func() {
			var lines []string
			defer func() { got <- lines }()
			r := bufio.NewReader(sc)
			io.WriteString(sc, "220 x ESMTP\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				cmd := strings.TrimRight(l, "\r\n")
				lines = append(lines, cmd)
				switch {
				case strings.HasPrefix(cmd, "EHLO") && pipelining:
					io.WriteString(sc, "250-x\r\n250-PIPELINING\r\n250 XFORWARD NAME ADDR\r\n")
				case strings.HasPrefix(cmd, "EHLO"):
					io.WriteString(sc, "250-x\r\n250 XFORWARD NAME ADDR\r\n")
				case cmd == "XFORWARD NAME=bad":
					io.WriteString(sc, "550 5.7.0 insufficient authorization\r\n")
				case cmd == "MAIL FROM:<refused@b.test>":
					io.WriteString(sc, "553 5.1.8 sender refused\r\n")
				case cmd == "QUIT":
					io.WriteString(sc, "221 bye\r\n")
					return
				default:
					io.WriteString(sc, "250 2.0.0 Ok\r\n")
				}
			}
		}()
		conn := &countingConn{Conn: cc}
		c := NewClient(conn)
		if err := c.Hello("gw.test"); err != nil {
			t.Fatal(err)
		}
		pre := []string{"XFORWARD NAME=good ADDR=192.0.2.1", "XFORWARD NAME=bad"}
		before := conn.writes
		replies, err := c.MailAfter(pre, "a@b.test", nil)
		if !pipelining {
			if err == nil || conn.writes != before {
				t.Errorf("without PIPELINING: %v, %d writes; want an error and nothing sent", err, conn.writes-before)
			}
			c.Quit()
			cc.Close()
			<-got
			continue
		}
		if err != nil || conn.writes-before != 1 {
			t.Fatalf("MailAfter: %v in %d writes, want no error in one", err, conn.writes-before)
		}
		if len(replies) != 2 || replies[0].Code != 250 || replies[1].Code != 550 || replies[1].Message != "5.7.0 insufficient authorization" {
			t.Errorf("replies = %+v, want 250 then 550 5.7.0", replies)
		}
		if _, err := c.MailAfter([]string{"XFORWARD NAME=a\r\nRCPT TO:<x@y.test>"}, "a@b.test", nil); err == nil {
			t.Error("a line with CRLF was sent")
		}
		replies, err = c.MailAfter(pre[:1], "refused@b.test", nil)
		var se *SMTPError
		if !errors.As(err, &se) || se.Code != 553 || len(replies) != 1 || replies[0].Code != 250 {
			t.Errorf("refused sender: %+v, %v; want XFORWARD's 250 and MAIL's 553", replies, err)
		}
		c.Quit()
		cc.Close()
		want := []string{"EHLO gw.test", pre[0], pre[1], "MAIL FROM:<a@b.test>", pre[0], "MAIL FROM:<refused@b.test>", "QUIT"}
		if lines := <-got; strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Errorf("server read %q, want %q", lines, want)
		}
	}
}
