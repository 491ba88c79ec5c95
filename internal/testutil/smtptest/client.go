package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Reply is one SMTP reply as it was read off the wire.
type Reply struct {
	Code int
	// Enhanced is the RFC 3463 code of the last line ("5.7.1"), "" when
	// absent.
	Enhanced string
	// Text is the last line's text after the codes.
	Text string
	// Lines are the raw lines, without CRLF.
	Lines []string
}

func (r Reply) String() string {
	if len(r.Lines) == 0 {
		return "(no reply)"
	}
	return strings.Join(r.Lines, " | ")
}

// Client is a bare-hands SMTP client for tests: it sends exactly the lines
// it is given and reads exact replies, so tests can see codes, enhanced
// codes and texts, and can misbehave on purpose.
type Client struct {
	tb   testing.TB
	conn net.Conn
	r    *bufio.Reader
	// Banner is the greeting.
	Banner Reply
}

// DialOptions shape a test client's connection.
type DialOptions struct {
	// Source is the local address to dial from, e.g. "127.0.0.5", so
	// tests can be different clients; "" lets the system choose.
	Source string
	// Timeout bounds each read and write (default 30s).
	Timeout time.Duration
}

// Dial connects to addr and reads the banner. It fails the test when the
// connection cannot be made.
func Dial(tb testing.TB, addr string, opts DialOptions) *Client {
	tb.Helper()
	c, err := DialErr(tb, addr, opts)
	if err != nil {
		tb.Fatalf("smtptest: dial %s: %v", addr, err)
	}
	return c
}

// DialErr is Dial returning the error instead of failing the test.
func DialErr(tb testing.TB, addr string, opts DialOptions) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: opts.Timeout}
	if opts.Source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.Source)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(opts.Timeout))
	c := &Client{tb: tb, conn: conn, r: bufio.NewReader(conn)}
	tb.Cleanup(func() { conn.Close() })
	c.Banner, err = c.ReadReply()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("banner: %w", err)
	}
	return c, nil
}

// Conn is the underlying connection.
func (c *Client) Conn() net.Conn { return c.conn }

// SetTimeout moves the deadline of the connection to d from now.
func (c *Client) SetTimeout(d time.Duration) { c.conn.SetDeadline(time.Now().Add(d)) }

// ReadReply reads one (possibly multi-line) reply.
func (c *Client) ReadReply() (Reply, error) {
	var r Reply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return r, fmt.Errorf("read reply (after %q): %w", r.Lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		r.Lines = append(r.Lines, line)
		if len(line) < 3 {
			return r, fmt.Errorf("malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return r, fmt.Errorf("malformed reply line %q", line)
		}
		r.Code = code
		if len(line) == 3 || line[3] == ' ' {
			text := ""
			if len(line) > 4 {
				text = line[4:]
			}
			if e, rest, ok := strings.Cut(text, " "); ok && isEnhanced(e) {
				r.Enhanced, text = e, rest
			} else if isEnhanced(text) {
				r.Enhanced, text = text, ""
			}
			r.Text = text
			return r, nil
		}
	}
}

func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// Cmd sends one command line (CRLF added) and reads the reply; an I/O
// failure fails the test.
func (c *Client) Cmd(format string, args ...any) Reply {
	c.tb.Helper()
	r, err := c.CmdErr(format, args...)
	if err != nil {
		c.tb.Fatalf("smtptest: %s: %v", fmt.Sprintf(format, args...), err)
	}
	return r
}

// CmdErr is Cmd returning the error.
func (c *Client) CmdErr(format string, args ...any) (Reply, error) {
	if _, err := fmt.Fprintf(c.conn, format+"\r\n", args...); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// Expect sends a command and fails the test unless the reply has code.
func (c *Client) Expect(code int, format string, args ...any) Reply {
	c.tb.Helper()
	r := c.Cmd(format, args...)
	if r.Code != code {
		c.tb.Fatalf("smtptest: %s: got %s, want %d", fmt.Sprintf(format, args...), r, code)
	}
	return r
}

// Write sends raw bytes.
func (c *Client) Write(b []byte) error {
	_, err := c.conn.Write(b)
	return err
}

// Trickle writes b a byte at a time, one every interval, while listening
// for a reply, then end at once (the end of a message, or nothing), and
// returns the first reply (or read error) and whether it came while b
// still trickled.
func (c *Client) Trickle(b []byte, interval time.Duration, end []byte) (r Reply, early bool, err error) {
	type reply struct {
		r   Reply
		err error
	}
	got := make(chan reply, 1)
	go func() {
		r, err := c.ReadReply()
		got <- reply{r, err}
	}()
	for _, x := range b {
		select {
		case rep := <-got:
			return rep.r, true, rep.err
		case <-time.After(interval):
			c.conn.Write([]byte{x})
		}
	}
	if len(end) > 0 {
		c.conn.Write(end)
	}
	rep := <-got
	return rep.r, false, rep.err
}

// Data sends DATA, then msg dot-stuffed and terminated, and returns the
// reply to the final dot (or the refusal of DATA itself). msg is sent as
// it is apart from the dot-stuffing; a missing final line end is added.
func (c *Client) Data(msg []byte) Reply {
	c.tb.Helper()
	r := c.Cmd("DATA")
	if r.Code != 354 {
		return r
	}
	r, err := c.SendBody(msg)
	if err != nil {
		c.tb.Fatalf("smtptest: message: %v", err)
	}
	return r
}

// SendBody writes a message after a 354 and reads the reply to its dot.
func (c *Client) SendBody(msg []byte) (Reply, error) {
	w := bufio.NewWriterSize(c.conn, 64<<10)
	if _, err := w.Write(DotStuff(msg)); err != nil {
		return Reply{}, err
	}
	if err := w.Flush(); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// DotStuff adds the leading dots of RFC 5321 section 4.5.2 and the end
// marker, after a CRLF when msg does not end with one (a bare LF does not
// end the last line for the end marker's sake).
func DotStuff(msg []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(msg) + len(msg)/64 + 5)
	atStart := true
	for _, ch := range msg {
		if atStart && ch == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(ch)
		atStart = ch == '\n'
	}
	if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// StartTLS says STARTTLS and switches to TLS (certificates not verified:
// test peers use throwaway ones).
func (c *Client) StartTLS() Reply {
	c.tb.Helper()
	r := c.Cmd("STARTTLS")
	if r.Code != 220 {
		return r
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.tb.Fatalf("smtptest: TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
	return r
}

// Close says QUIT and closes the connection, ignoring errors.
func (c *Client) Close() {
	c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c.conn, "QUIT\r\n")
	c.ReadReply()
	c.conn.Close()
}

// Send runs a whole transaction (EHLO, MAIL, RCPT..., DATA) and returns
// the first reply that was not a success, or the reply to the final dot.
func (c *Client) Send(from string, rcpts []string, msg []byte) Reply {
	c.tb.Helper()
	if r := c.Cmd("EHLO client.test"); r.Code != 250 {
		return r
	}
	if r := c.Cmd("MAIL FROM:<%s>", from); r.Code != 250 {
		return r
	}
	for _, to := range rcpts {
		if r := c.Cmd("RCPT TO:<%s>", to); r.Code/100 != 2 {
			return r
		}
	}
	return c.Data(msg)
}
