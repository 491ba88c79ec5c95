package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"mailguard/filters"
)

// ForwardMode says how the backend learns who the client was
// (backend_forward).
type ForwardMode string

const (
	// ForwardOff sends nothing: the backend sees the gateway as the client.
	ForwardOff ForwardMode = "off"
	// ForwardXForward sends Postfix's XFORWARD before each MAIL FROM when
	// the backend offers it: the backend logs the client and puts it in
	// Received:, but applies its restrictions to the gateway.
	ForwardXForward ForwardMode = "xforward"
	// ForwardXClient sends Postfix's XCLIENT once per connection when the
	// backend offers it: the backend then treats the connection as the
	// client's, restrictions and policy services included. An
	// authenticated client's transactions go with XFORWARD instead (see
	// Origin.Mode).
	ForwardXClient ForwardMode = "xclient"
)

// Origin is what the gateway knows of the client a transaction comes from,
// as XFORWARD and XCLIENT carry it
// (https://www.postfix.org/XFORWARD_README.html,
// https://www.postfix.org/XCLIENT_README.html).
type Origin struct {
	// Addr and Port are the client's address and port.
	Addr netip.Addr
	Port uint16
	// Name is the client's forward-confirmed reverse name; "" is sent as
	// [UNAVAILABLE].
	Name string
	// Helo is the name the client gave in HELO/EHLO.
	Helo string
	// ESMTP is true when the client said EHLO (PROTO=ESMTP), false for
	// HELO (PROTO=SMTP).
	ESMTP bool
	// Login is the SMTP AUTH identity, "" when the client did not
	// authenticate. It is never sent: it only makes Mode choose XFORWARD.
	Login string
	// QueueID is the gateway's queue id of the transaction (XFORWARD's
	// IDENT).
	QueueID string
}

// Mode is how a transaction of o is handed to the backend when
// backend_forward is configured: as configured, except that an
// authenticated client's transaction goes with XFORWARD, not XCLIENT.
// The gateway has already allowed that client to relay; after XCLIENT the
// backend would judge the relay by the client's address alone, and
// Postfix 2.9 to 3.6.15, 3.7.11, 3.8.6 and 3.9.0 lets XCLIENT's LOGIN count
// for permit_sasl_authenticated only when it runs a SASL server of its
// own (smtpd_sasl_auth_enable=yes), so it would refuse the relay ("454
// 4.7.1 Relay access denied"). With XFORWARD the backend judges the
// gateway, which its mynetworks trusts, and still logs the client.
func (o Origin) Mode(configured ForwardMode) ForwardMode {
	if configured == ForwardXClient && o.Login != "" {
		return ForwardXForward
	}
	return configured
}

// attrs returns the attributes in the order Postfix's own client sends
// them, with their raw (not yet xtext-encoded) values.
func (o Origin) attrs(mode ForwardMode) [][2]string {
	name := o.Name
	if name == "" {
		name = "[UNAVAILABLE]"
	}
	addr := o.Addr.Unmap().String()
	if o.Addr.Unmap().Is6() {
		addr = "IPV6:" + addr
	}
	proto := "SMTP"
	if o.ESMTP {
		proto = "ESMTP"
	}
	a := [][2]string{{"NAME", name}}
	if o.Addr.IsValid() {
		a = append(a, [2]string{"ADDR", addr})
	}
	if o.Port != 0 {
		a = append(a, [2]string{"PORT", strconv.Itoa(int(o.Port))})
	}
	a = append(a, [2]string{"PROTO", proto})
	if o.Helo != "" {
		a = append(a, [2]string{"HELO", o.Helo})
	}
	if mode == ForwardXForward {
		if o.QueueID != "" {
			a = append(a, [2]string{"IDENT", o.QueueID})
		}
		a = append(a, [2]string{"SOURCE", "REMOTE"})
	}
	return a
}

const (
	// maxAttrLen is the longest encoded attribute value Postfix accepts
	// (XFORWARD_README: 255 characters).
	maxAttrLen = 255
	// maxCmdLen keeps each command line within RFC 5321's 512 octets.
	maxCmdLen = 510
)

// XText encodes s as RFC 3461 section 4 xtext: every octet outside "!"
// to "~", and "+" and "=", becomes "+" and two upper-case hex digits.
func XText(s string) string { return xtextCapped(s, 3*len(s)) }

// xtextCapped encodes the longest start of s whose encoding is at most n
// characters (an escape is never cut in two). It takes one pass: a
// client's HELO name of 2000 octets is encoded at every MAIL FROM.
func xtextCapped(s string, n int) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(min(n, 3*len(s)))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			if b.Len()+3 > n {
				break
			}
			b.WriteByte('+')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		if b.Len()+1 > n {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

// commands builds the XFORWARD or XCLIENT command lines for o, keeping
// only the attributes the backend announced (offered is the EHLO
// keyword's parameter). XFORWARD is split over several lines when one
// would be too long; XCLIENT must be one line, so attributes that do not
// fit are left out.
func commands(verb, offered string, attrs [][2]string) []string {
	announced := map[string]bool{}
	for f := range strings.FieldsSeq(offered) {
		announced[strings.ToUpper(f)] = true
	}
	var lines []string
	line := verb
	for _, a := range attrs {
		if !announced[a[0]] {
			continue
		}
		el := " " + a[0] + "=" + xtextCapped(a[1], maxAttrLen)
		if len(line)+len(el) > maxCmdLen {
			if verb == "XCLIENT" {
				continue
			}
			lines = append(lines, line)
			line = verb
		}
		line += el
	}
	if line != verb {
		lines = append(lines, line)
	}
	return lines
}

// forwardState is what a connection has told the backend of its client.
type forwardState struct {
	// xclient is the origin last sent with XCLIENT; the connection now
	// belongs to that client.
	xclient *Origin
}

// ErrOriginChanged is Forward's answer when a connection handed to a client
// with XCLIENT is asked to carry a different origin (a new HELO, a login)
// or to be handed otherwise: the caller takes a new connection.
var ErrOriginChanged = errors.New("backend connection belongs to another client identity")

// Impersonating reports whether the connection was handed to a client
// with XCLIENT: it must not carry another client's mail.
func (cl *Client) Impersonating() bool { return cl.fwd.xclient != nil }

// ForwardReply is one command Forward sent and the backend's reply to it.
type ForwardReply struct {
	// Verb is XFORWARD or XCLIENT.
	Verb string
	// Reply is the backend's: 2xx (250 for XFORWARD, 220 for XCLIENT)
	// when it took the command, a refusal otherwise.
	Reply filters.Reply
}

// Refused reports whether the backend did not take the command.
func (r ForwardReply) Refused() bool { return r.Reply.Code/100 != 2 }

// ForwardMail tells the backend who the client of the transaction is, as
// o.Mode(mode) says, then says MAIL FROM:
//
//   - xforward: XFORWARD with every attribute, for every transaction
//     (ErrOriginChanged on a connection handed to a client with XCLIENT);
//   - xclient: XCLIENT once per connection (ErrOriginChanged when the
//     connection was handed to a different origin), then, for every
//     transaction, XFORWARD IDENT with the queue id when the backend's EHLO
//     (the one after XCLIENT, if it was taken) still offers it. Postfix
//     decides whether XFORWARD is allowed once, for the address the
//     connection really comes from, so XCLIENT does not take it away; the
//     client attributes are not sent again with it, since Postfix would
//     then log them as a second, forwarded client.
//
// Nothing is sent before MAIL FROM when mode is off or the backend does not
// offer the command; only attributes the backend announced are sent. When
// the backend offers PIPELINING (RFC 2920), the XFORWARD lines leave in one
// write with MAIL FROM, as Postfix's own SMTP client sends them: a round
// trip less a message. Without it they go one at a time, and the first
// refused one ends them.
//
// It returns each command sent before MAIL FROM with the backend's reply,
// in order, and the reply to MAIL FROM. A refused XCLIENT or XFORWARD
// leaves the connection usable and the transaction goes on without it. An
// error means the connection failed (ErrUnavailable) or, before anything
// was sent, ErrOriginChanged.
func (cl *Client) ForwardMail(ctx context.Context, mode ForwardMode, o Origin, from string, opts MailOptions) ([]ForwardReply, filters.Reply, error) {
	sent, lines, err := cl.prepareForward(ctx, mode, o)
	if err != nil {
		return sent, filters.Reply{}, err
	}
	if ok, _ := cl.c.Extension("PIPELINING"); !ok || len(lines) == 0 {
		more, err := cl.xforward(ctx, lines)
		sent = append(sent, more...)
		if err != nil {
			return sent, filters.Reply{}, err
		}
		r, err := cl.Mail(ctx, from, opts)
		return sent, r, err
	}
	mo, path, err := cl.mailArgs(from, opts)
	if err != nil {
		return sent, filters.Reply{}, err
	}
	var replies []smtp.CommandReply
	r, err := cl.reply(ctx, cl.cfg.Timeout, "MAIL FROM", func() error {
		var err error
		replies, err = cl.c.MailAfter(lines, path, mo)
		return err
	})
	for _, x := range replies {
		sent = append(sent, ForwardReply{"XFORWARD", replyText(x.Code, x.Message)})
	}
	return sent, r, err
}

// prepareForward does what ForwardMail must do before its XFORWARD lines
// (XCLIENT, once a connection) and returns those lines.
func (cl *Client) prepareForward(ctx context.Context, mode ForwardMode, o Origin) ([]ForwardReply, []string, error) {
	if cl.broken != nil {
		return nil, nil, cl.broken
	}
	mode = o.Mode(mode)
	if cl.fwd.xclient != nil && mode != ForwardXClient {
		// The backend would take the transaction as the XCLIENT client's.
		return nil, nil, ErrOriginChanged
	}
	switch mode {
	case ForwardXForward:
		return nil, cl.xforwardLines(o.attrs(mode)), nil
	case ForwardXClient:
		ident := o.QueueID
		o.QueueID = "" // XCLIENT has no attribute for it
		var sent []ForwardReply
		switch {
		case cl.fwd.xclient == nil:
			ok, offered := cl.c.Extension("XCLIENT")
			if !ok {
				break
			}
			lines := commands("XCLIENT", offered, o.attrs(mode))
			if len(lines) == 0 {
				break
			}
			r, err := cl.xclient(ctx, lines[0], o)
			if err != nil {
				return nil, nil, err
			}
			sent = append(sent, ForwardReply{"XCLIENT", r})
		case *cl.fwd.xclient != o:
			// Postfix no longer offers XCLIENT to the client it now
			// thinks it talks to.
			return nil, nil, ErrOriginChanged
		}
		if ident == "" {
			return sent, nil, nil
		}
		return sent, cl.xforwardLines([][2]string{{"IDENT", ident}}), nil
	}
	return nil, nil, nil
}

// xforwardLines are the XFORWARD lines for attrs: none when the backend
// does not offer XFORWARD.
func (cl *Client) xforwardLines(attrs [][2]string) []string {
	ok, offered := cl.c.Extension("XFORWARD")
	if !ok {
		return nil
	}
	return commands("XFORWARD", offered, attrs)
}

// xforward sends XFORWARD lines one at a time; it stops at the first
// refused.
func (cl *Client) xforward(ctx context.Context, lines []string) ([]ForwardReply, error) {
	var sent []ForwardReply
	for _, line := range lines {
		r, err := cl.raw(ctx, line)
		if err != nil {
			return sent, err
		}
		sent = append(sent, ForwardReply{"XFORWARD", r})
		if r.Code/100 != 2 {
			break
		}
	}
	return sent, nil
}

// xclient sends one XCLIENT line. The backend answers a success with a new
// greeting (220) and forgets the session, so EHLO is said again, with the
// client's HELO name when it is a plain domain or address literal (the
// backend then logs that name, as it would have from the client).
func (cl *Client) xclient(ctx context.Context, line string, o Origin) (filters.Reply, error) {
	var greeting []byte
	r, err := cl.rawRecorded(ctx, line, &greeting)
	if err != nil || r.Code != 220 {
		return r, err
	}
	name := cl.cfg.Hostname
	if plainHelo(o.Helo) {
		name = o.Helo
	}
	// A new go-smtp client reads the greeting just received, then says
	// EHLO.
	nc := smtp.NewClient(&replayConn{Conn: cl.conn, pending: greeting})
	err = cl.call(ctx, cl.cfg.Timeout, func() error { return nc.Hello(name) })
	if err != nil {
		cl.fail(fmt.Errorf("%w: EHLO after XCLIENT to %s: %v", ErrUnavailable, cl.cfg.Addr, err))
		return filters.Reply{}, cl.broken
	}
	cl.c = nc
	sent := o
	cl.fwd.xclient = &sent
	return r, nil
}

// plainHelo reports whether s may be said in EHLO as it is: a domain
// name or an address literal, nothing else.
func plainHelo(s string) bool {
	if s == "" || len(s) > maxAttrLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == ':':
		case (c == '[' && i == 0) || (c == ']' && i == len(s)-1 && s[0] == '['):
		default:
			return false
		}
	}
	return true
}

// raw sends a command go-smtp's client has no method for and reads its
// reply through the client's reader. A 421 breaks the connection.
func (cl *Client) raw(ctx context.Context, line string) (filters.Reply, error) {
	verb, _, _ := strings.Cut(line, " ")
	var code int
	var msg string
	err := cl.call(ctx, cl.cfg.Timeout, func() error {
		var err error
		code, msg, err = cl.c.Command(line)
		return err
	})
	return cl.rawReply(verb, code, msg, err)
}

// rawRecorded sends a command as raw does, but reads its reply octet by
// octet, so that nothing after it is taken from the connection, and keeps
// the reply's octets in rec: after XCLIENT a new client reads the new
// greeting from them.
func (cl *Client) rawRecorded(ctx context.Context, line string, rec *[]byte) (filters.Reply, error) {
	verb, _, _ := strings.Cut(line, " ")
	var code int
	var msg string
	err := cl.call(ctx, cl.cfg.Timeout, func() error {
		if _, err := io.WriteString(cl.conn, line+"\r\n"); err != nil {
			return err
		}
		src := io.Reader(octetReader{cl.conn})
		var buf bytes.Buffer
		if rec != nil {
			src = io.TeeReader(src, &buf)
		}
		var err error
		code, msg, err = textproto.NewReader(bufio.NewReaderSize(src, 16)).ReadResponse(0)
		if rec != nil {
			*rec = buf.Bytes()
		}
		var te *textproto.Error
		if errors.As(err, &te) {
			return nil
		}
		return err
	})
	return cl.rawReply(verb, code, msg, err)
}

// rawReply sorts what a raw command got: an error breaks the connection,
// and so does a 421.
func (cl *Client) rawReply(verb string, code int, msg string, err error) (filters.Reply, error) {
	if err != nil {
		cl.fail(fmt.Errorf("%w: %s to %s: %v", ErrUnavailable, verb, cl.cfg.Addr, err))
		return filters.Reply{}, cl.broken
	}
	r := replyText(code, msg)
	if code == 421 {
		cl.fail(fmt.Errorf("%w: %s closing: %s", ErrUnavailable, cl.cfg.Addr, r))
		return r, cl.broken
	}
	return r, nil
}

// replyText makes a Reply of a code and the text of its last line, taking
// the RFC 3463 code off the text's front.
func replyText(code int, msg string) filters.Reply {
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	r := filters.Reply{Code: code, Text: msg}
	if e, rest, ok := strings.Cut(msg, " "); ok {
		var a, b, c int
		if n, err := fmt.Sscanf(e, "%d.%d.%d", &a, &b, &c); err == nil && n == 3 && a == code/100 {
			r.Enhanced, r.Text = e, rest
		}
	}
	return r
}

// octetReader reads one octet a call, so a buffered reader on top never
// reads past the line it was asked for.
type octetReader struct{ r io.Reader }

func (o octetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// replayConn returns pending before reading from the connection again.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
