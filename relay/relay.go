// Package relay is the SMTP client the gateway hands accepted mail to: the
// backend MTA behind the proxy, and the same backend when a quarantined
// message is released or a recipient is probed with a callout.
//
// It wraps github.com/emersion/go-smtp's client so that every call is bounded
// by a deadline and every answer of the backend comes back as a filters.Reply.
// The split between the two results of each call is the one callers need for
// the 4xx/5xx decision: a Reply is what the backend said (2xx, 4xx or 5xx); an
// error means the backend could not be talked to (refused connection, timeout,
// broken connection, protocol violation) and callers answer 451 4.4.1.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/envelope"
	"mailguard/filters"
	"mailguard/internal/bufpool"
)

// Config says where the backend is and how long to wait for it.
type Config struct {
	// Addr is the backend's host:port.
	Addr string
	// Hostname is the name given in EHLO (default "localhost").
	Hostname string
	// Timeout bounds connecting and each command's reply (default 5
	// minutes, RFC 5321 section 4.5.3.2).
	Timeout time.Duration
	// DataTimeout bounds sending a message and waiting for the reply to
	// its final dot (default 10 minutes, RFC 5321 section 4.5.3.2.6).
	DataTimeout time.Duration
}

const (
	defaultTimeout     = 5 * time.Minute
	defaultDataTimeout = 10 * time.Minute
)

// MailOptions are the MAIL FROM parameters passed on to the backend.
type MailOptions struct {
	// Size is the SIZE= declared by the client; 0 omits it.
	Size int64
	// SMTPUTF8 asks for SMTPUTF8 (the backend must offer it).
	SMTPUTF8 bool
	// EightBit marks the body as 8BITMIME. go-smtp declares BODY=8BITMIME
	// whenever the backend offers it, which is correct for 7-bit bodies
	// too, so this only documents the caller's intent.
	EightBit bool
}

// ErrUnavailable wraps every failure to talk to the backend, so callers can
// tell it from a reply with errors.Is.
var ErrUnavailable = errors.New("backend unavailable")

// ErrSource wraps a failure of the message source Data reads: the gateway's
// own fault, not the backend's.
var ErrSource = errors.New("message source failed")

// Client is one connection to the backend, after its greeting and EHLO. It
// is not safe for concurrent use.
type Client struct {
	cfg  Config
	conn *clampConn
	c    *smtp.Client
	// broken is set once the connection cannot be trusted any more (a
	// timeout, a message whose source failed mid-way); every later call
	// fails fast.
	broken error
	// fwd is what was told of the client (forward.go).
	fwd forwardState
}

// Dial connects to the backend, reads its greeting and says EHLO (falling
// back to HELO). A backend that refuses the greeting or EHLO counts as
// unavailable.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = defaultDataTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: connect %s: %v", ErrUnavailable, cfg.Addr, err)
	}
	cc := &clampConn{Conn: nc}
	cl := &Client{cfg: cfg, conn: cc, c: smtp.NewClient(cc)}
	err = cl.call(ctx, cfg.Timeout, func() error { return cl.c.Hello(cfg.Hostname) })
	if err != nil {
		cl.Close()
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %s refused the session: %s", ErrUnavailable, cfg.Addr, replyOf(se))
		}
		return nil, fmt.Errorf("%w: greeting from %s: %v", ErrUnavailable, cfg.Addr, err)
	}
	return cl, nil
}

// Extension reports whether the backend offered an EHLO keyword, and its
// parameter.
func (cl *Client) Extension(name string) (bool, string) {
	return cl.c.Extension(name)
}

// known are the EHLO keywords Extensions looks for.
var known = []string{"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS",
	"AUTH", "DSN", "CHUNKING", "BINARYMIME", "REQUIRETLS", "DELIVERBY", "MT-PRIORITY", "RRVS", "LIMITS"}

// Extensions returns the well-known EHLO keywords the backend offered, with
// their parameters.
func (cl *Client) Extensions() map[string]string {
	m := map[string]string{}
	for _, k := range known {
		if ok, v := cl.c.Extension(k); ok {
			m[k] = v
		}
	}
	return m
}

// Mail starts a transaction. A 2xx reply means the sender was accepted.
func (cl *Client) Mail(ctx context.Context, from string, opts MailOptions) (filters.Reply, error) {
	mo, path, err := cl.mailArgs(from, opts)
	if err != nil {
		return filters.Reply{}, err
	}
	return cl.reply(ctx, cl.cfg.Timeout, "MAIL FROM", func() error { return cl.c.Mail(path, mo) })
}

// mailArgs are go-smtp's MAIL FROM options and the sender's path for from
// and opts; an error when the backend cannot take them.
func (cl *Client) mailArgs(from string, opts MailOptions) (*smtp.MailOptions, string, error) {
	mo := &smtp.MailOptions{Size: opts.Size, UTF8: opts.SMTPUTF8}
	if opts.SMTPUTF8 {
		if ok, _ := cl.c.Extension("SMTPUTF8"); !ok {
			return nil, "", fmt.Errorf("%w: %s does not offer SMTPUTF8", ErrUnavailable, cl.cfg.Addr)
		}
	}
	path, err := wirePath(from, false)
	return mo, path, err
}

// wirePath checks an address once more and writes it as the path of a
// command, its local part quoted where RFC 5321 section 4.1.2 needs it: a
// space, ">" or "=" inside a local part never becomes a parameter of the
// command. An address that cannot be written safely is refused before
// anything is sent.
func wirePath(addr string, recipient bool) (string, error) {
	if _, err := envelope.Canonical(addr, recipient, true); err != nil {
		return "", fmt.Errorf("relay: address %q not sent: %w", addr, err)
	}
	return envelope.Path(addr), nil
}

// Rcpt adds a recipient. A 2xx reply means the backend accepted it.
func (cl *Client) Rcpt(ctx context.Context, to string) (filters.Reply, error) {
	path, err := wirePath(to, true)
	if err != nil {
		return filters.Reply{}, err
	}
	return cl.reply(ctx, cl.cfg.Timeout, "RCPT TO", func() error { return cl.c.Rcpt(path, nil) })
}

// Data sends the message read from r (dot-stuffed on the way; bare LF line
// ends become CRLF as SMTP requires) and returns the backend's reply to the
// final dot. If r fails before its end, the connection is closed without
// the final dot, so the backend cannot deliver a truncated message; the
// client is unusable afterwards.
func (cl *Client) Data(ctx context.Context, r io.Reader) (filters.Reply, error) {
	if cl.broken != nil {
		return filters.Reply{}, cl.broken
	}
	var w *smtp.DataCommand
	rep, err := cl.reply(ctx, cl.cfg.Timeout, "DATA", func() error {
		var err error
		w, err = cl.c.Data()
		return err
	})
	if err != nil || rep.Code/100 != 2 {
		return rep, err
	}
	var status string
	err = cl.call(ctx, cl.cfg.DataTimeout, func() error {
		if _, err := bufpool.Copy(w, sourceReader{r}); err != nil {
			return err
		}
		resp, err := w.CloseWithResponse()
		if resp != nil {
			status = resp.StatusText
		}
		return err
	})
	var se *smtp.SMTPError
	var srcErr sourceError
	switch {
	case errors.As(err, &srcErr):
		cl.fail(fmt.Errorf("%w: %w", ErrSource, srcErr.err))
		return filters.Reply{}, cl.broken
	case errors.As(err, &se):
		return replyOf(se), nil
	case err != nil:
		cl.fail(fmt.Errorf("%w: sending message to %s: %v", ErrUnavailable, cl.cfg.Addr, err))
		return filters.Reply{}, cl.broken
	}
	return parseOK(status), nil
}

// Addr is the backend's host:port, as dialled.
func (cl *Client) Addr() string { return cl.cfg.Addr }

// Usable reports whether the connection can still carry commands: no
// timeout, broken connection or failed message source happened on it.
func (cl *Client) Usable() bool { return cl.broken == nil }

// Reset aborts the current transaction (RSET).
func (cl *Client) Reset(ctx context.Context) error {
	_, err := cl.reply(ctx, cl.cfg.Timeout, "RSET", func() error { return cl.c.Reset() })
	return err
}

// Close says QUIT, briefly, and closes the connection.
func (cl *Client) Close() error {
	if cl.broken == nil {
		cl.conn.clamp(time.Now().Add(5 * time.Second))
		cl.c.Quit()
	}
	return cl.c.Close()
}

// reply runs one command and sorts its outcome into a reply or an error.
func (cl *Client) reply(ctx context.Context, d time.Duration, what string, f func() error) (filters.Reply, error) {
	if cl.broken != nil {
		return filters.Reply{}, cl.broken
	}
	err := cl.call(ctx, d, f)
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return filters.Reply{Code: 250, Enhanced: "2.0.0", Text: "Ok"}, nil
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 600:
		if se.Code == 421 {
			// The backend is closing the connection.
			cl.fail(fmt.Errorf("%w: %s closing: %s", ErrUnavailable, cl.cfg.Addr, replyOf(se)))
		}
		return replyOf(se), nil
	}
	cl.fail(fmt.Errorf("%w: %s to %s: %v", ErrUnavailable, what, cl.cfg.Addr, err))
	return filters.Reply{}, cl.broken
}

// call runs f with the connection's deadline clamped to d from now and to
// ctx's deadline, and cut short when ctx is cancelled.
func (cl *Client) call(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	cl.conn.clamp(deadline)
	stop := context.AfterFunc(ctx, func() { cl.conn.clamp(time.Unix(1, 0)) })
	err := f()
	stop()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", err, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// A reply may still be in flight; the conversation is out of step.
		cl.fail(fmt.Errorf("%w: %s: timeout: %v", ErrUnavailable, cl.cfg.Addr, err))
		return cl.broken
	}
	return err
}

func (cl *Client) fail(err error) {
	if cl.broken == nil {
		cl.broken = err
		cl.c.Close()
	}
}

// replyOf copies a go-smtp error into a Reply.
func replyOf(se *smtp.SMTPError) filters.Reply {
	r := filters.Reply{Code: se.Code, Text: se.Message}
	if se.EnhancedCode != smtp.EnhancedCodeNotSet && se.EnhancedCode != smtp.NoEnhancedCode {
		e := se.EnhancedCode
		r.Enhanced = fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	}
	return r
}

// parseOK turns the text of a 250 reply to the final dot ("2.0.0 Ok: queued
// as X") into a Reply.
func parseOK(text string) filters.Reply {
	r := filters.Reply{Code: 250, Text: text}
	if code, rest, ok := strings.Cut(text, " "); ok {
		var a, b, c int
		if n, err := fmt.Sscanf(code, "%d.%d.%d", &a, &b, &c); err == nil && n == 3 && a == 2 {
			r.Enhanced, r.Text = code, rest
		}
	}
	return r
}

// sourceReader marks read errors of the message source, so Data can tell
// them from the backend's connection failing.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// clampConn keeps go-smtp's own per-command deadlines from outliving ours:
// every deadline it sets is capped at the current clamp.
type clampConn struct {
	net.Conn
	mu  sync.Mutex
	max time.Time
}

func (c *clampConn) clamp(t time.Time) {
	c.mu.Lock()
	c.max = t
	c.mu.Unlock()
	c.Conn.SetDeadline(t)
}

func (c *clampConn) capped(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.max.IsZero() && (t.IsZero() || t.After(c.max)) {
		return c.max
	}
	return t
}

func (c *clampConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.capped(t)) }
func (c *clampConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.capped(t)) }
func (c *clampConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.capped(t)) }
