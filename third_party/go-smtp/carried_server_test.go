package smtp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestLongLinesInData: a message line over MaxLineLength is the session's
// to judge; the session goes on and the client reads the reply.
func TestLongLinesInData(t *testing.T) {
	be := new(backend)
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.MaxLineLength = 100
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("want %s: %v", code, err)
			}
			if len(line) < 4 || line[3] == ' ' {
				if !strings.HasPrefix(line, code) {
					t.Fatalf("got %q, want %s", line, code)
				}
				return
			}
		}
	}
	expect("220")
	io.WriteString(c, "EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	expect("250")
	expect("250")
	expect("250")
	expect("354")
	io.WriteString(c, "Subject: x\r\n\r\n"+strings.Repeat("y", 5000)+"\r\n.\r\n")
	expect("250")
	if len(be.anonmsgs) != 1 || !strings.Contains(string(be.anonmsgs[0].Data), strings.Repeat("y", 5000)) {
		t.Fatalf("message not delivered whole")
	}
	// A long command line still ends the session, with its reply read
	// although the client goes on sending.
	go io.WriteString(c, strings.Repeat("z", 300000)+"\r\n")
	expect("500")
	if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("after 500: %v, want EOF", err)
	}
}

// TestUnknownCommandEcho: an unknown command is echoed without the control
// characters it may hold, so its reply stays one well-formed line.
func TestUnknownCommandEcho(t *testing.T) {
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	io.WriteString(c, "00\r0\r\nNOOP\r\n")
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "5") || strings.Count(line, "\r") != 1 {
		t.Fatalf("reply %q, %v", line, err)
	}
}

// TestMaxProtocolErrors: a negative MaxProtocolErrors leaves the session
// open however many unknown commands it gets, so the caller's own error
// limit decides.
func TestMaxProtocolErrors(t *testing.T) {
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	s.MaxProtocolErrors = -1 // 0 (the release) closes after the fourth
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	for i := 0; i < 8; i++ {
		io.WriteString(c, "BOGUS\r\n")
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "5") {
			t.Fatalf("error %d: got %q, %v; want 5xx and the session open", i+1, line, err)
		}
	}
	io.WriteString(c, "NOOP\r\n")
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "250 ") {
		t.Fatalf("NOOP after 8 errors: got %q", line)
	}
}

// TestBeforeReply: the hook sees each reply's code before it is written,
// and the reply it returns follows the last one before the connection
// closes.
func TestBeforeReply(t *testing.T) {
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	s.MaxProtocolErrors = -1
	var mu sync.Mutex
	var codes []int
	s.BeforeReply = func(c *smtp.Conn, code int) *smtp.SMTPError {
		mu.Lock()
		defer mu.Unlock()
		codes = append(codes, code)
		if code >= 500 && len(codes) == 3 {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors"}
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "NOOP\r\nBOGUS\r\nNOOP\r\n")
	got, _ := io.ReadAll(c)
	lines := strings.Split(strings.TrimSpace(string(got)), "\r\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "5") || lines[3] != "421 4.7.0 Too many errors" {
		t.Fatalf("got %q; want 220, 250, 5xx, then 421 and the end", lines)
	}
	mu.Lock()
	defer mu.Unlock()
	// A command already read may still be answered into the closed
	// connection (with no session: go-smtp forgot it at Close).
	if len(codes) < 3 || codes[0] != 220 || codes[1] != 250 {
		t.Fatalf("hook saw %v", codes)
	}
}

// TestNestedMail: MAIL inside a transaction is refused with 503 5.5.1 and
// the transaction goes on; the release answered 250 and kept the first
// transaction's recipients for the second sender's DATA.
func TestNestedMail(t *testing.T) {
	be, s, c, scanner, _ := testServerEhlo(t)
	defer s.Close()
	defer c.Close()
	expect := func(cmd, prefix string) {
		t.Helper()
		io.WriteString(c, cmd+"\r\n")
		scanner.Scan()
		if !strings.HasPrefix(scanner.Text(), prefix) {
			t.Fatalf("%s: got %q, want %s", cmd, scanner.Text(), prefix)
		}
	}
	expect("MAIL FROM:<a@b.test>", "250 ")
	expect("MAIL FROM:<x@y.test>", "503 5.5.1 ")
	expect("RCPT TO:<c@d.test>", "250 ")
	expect("MAIL FROM:<x@y.test>", "503 5.5.1 ")
	expect("DATA", "354 ")
	expect("Subject: x\r\n\r\nbody\r\n.", "250 ")
	if len(be.messages)+len(be.anonmsgs) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(be.messages)+len(be.anonmsgs))
	}
	m := append(be.messages, be.anonmsgs...)[0]
	if m.From != "a@b.test" || len(m.To) != 1 || m.To[0] != "c@d.test" {
		t.Errorf("delivered from <%s> to %v, want <a@b.test> to [c@d.test]", m.From, m.To)
	}
	// The transaction ended with the message; the next MAIL begins one.
	expect("MAIL FROM:<x@y.test>", "250 ")
	expect("RSET", "250 ")
	expect("MAIL FROM:<x@y.test>", "250 ")
}
