package milter

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	milterlib "github.com/d--j/go-milter"

	"mailguard/filters"
	"mailguard/maillog"
)

// session is one milter connection, which the MTA uses for one SMTP
// connection (or, after a "quit, new connection", for the next one). The
// library calls its methods one at a time from the connection's goroutine.
type session struct {
	srv *Server
	// leadingSpace is true when header values arrive with the space after
	// the colon (and added ones must carry it).
	leadingSpace bool

	id     string
	ctx    context.Context
	cancel context.CancelFunc
	conn   *filters.ClientConn
	start  time.Time
	// refusal is the Connect or Helo verdict, given at each RCPT TO as the
	// proxy does (Postfix's smtpd_delay_reject).
	refusal *filters.Verdict
	// judgedHelo is the HELO name chain.Helo last ran on.
	judgedHelo string
	tx         *txn
	stats      struct{ mail, rcpt, data, accepted, refused int }
}

// txn is one message, MAIL FROM to the end of the message.
type txn struct {
	t       *filters.Transaction
	chain   *filters.Chain
	refusal *filters.Verdict
	// hold is set when an earlier phase asked for quarantine.
	hold       bool
	holdReason string
	spool      *filters.Spool
	// fields are the arriving header fields in order, as the MTA sent
	// them, for deleting forged ones at their per-name index.
	fields  []field
	eoh     bool
	tooBig  bool
	spoolOK bool
}

// field is an arriving header field: its name and raw value (folds kept).
type field struct{ name, value string }

func (s *Server) newSession(leadingSpace bool) *session {
	s.wg.Add(1)
	s.open.Add(1)
	return &session{srv: s, leadingSpace: leadingSpace}
}

func (s *session) log() *slog.Logger {
	switch {
	case s.tx != nil:
		return s.tx.t.Log
	case s.conn != nil:
		return s.conn.Log
	}
	return s.srv.cfg.Log
}

// guard turns a panic in the adapter into a temporary failure of the
// command: the MTA's client hears 451, the process carries on.
func (s *session) guard(phase string, resp **milterlib.Response, err *error) {
	if r := recover(); r != nil {
		s.log().Error("milter session panicked", "phase", phase, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*resp, *err = s.reply(phase, filters.ReplyInternal, "panic", false), nil
	}
}

// NewConnection starts (or, on a reused milter connection, restarts) the
// connection's state.
func (s *session) NewConnection(milterlib.Modifier) error {
	s.endConnection()
	s.id = filters.NewQueueID()
	s.ctx, s.cancel = context.WithCancel(s.srv.ctx)
	s.start = time.Now()
	return nil
}

// Connect starts the chain's connect-time work (its DNS lookups start now).
// A unix-socket or unknown client (a local submission, Postfix's
// non_smtpd_milters) has no address: the checks that need one pass it by.
func (s *session) Connect(host, family string, port uint16, addr string, m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("CONNECT", &resp, &err)
	if s.ctx == nil {
		s.NewConnection(m)
	}
	var ip netip.Addr
	if family == "tcp4" || family == "tcp6" {
		ip, _ = netip.ParseAddr(addr)
		ip = ip.Unmap()
	}
	name := clientName(m.Get(milterlib.MacroClientName), host)
	shown := "unknown"
	if name != "" {
		shown = name
	}
	switch {
	case ip.IsValid():
		shown += "[" + ip.String() + "]"
	default:
		shown += "[" + family + "]"
		port = 0
	}
	s.conn = &filters.ClientConn{ClientIP: ip, ClientPort: port, ClientName: name, RelayByMTA: s.srv.cfg.RelayByMTA,
		TLS: m.Get(milterlib.MacroTlsVersion) != "",
		Log: s.srv.cfg.Log.With("session", s.id, "client", shown)}
	s.conn.Log.Info("connect", "mta", m.Get(milterlib.MacroMTAFQDN), "daemon", m.Get(milterlib.MacroDaemonName), "family", family)
	v := s.srv.cfg.Chain().Connect(s.ctx, s.conn)
	if v.Action == filters.Reject || v.Action == filters.Tempfail {
		s.refusal = &v
		s.conn.Log.Debug("client refused; replying at RCPT TO", "reply", v.Reply.String(), "reason", v.Reason)
	}
	return milterlib.RespContinue, nil
}

// clientName is the client's verified name: Postfix and Sendmail give
// "unknown" or "[address]" when the reverse lookup did not confirm.
func clientName(macro, host string) string {
	for _, n := range []string{macro, host} {
		n = strings.TrimSuffix(strings.TrimSpace(n), ".")
		if n != "" && n != "unknown" && !strings.HasPrefix(n, "[") {
			return strings.ToLower(n)
		}
	}
	return ""
}

// Helo runs chain.Helo when the name changed (a second HELO after
// STARTTLS with the same name is judged once). A refusal waits for RCPT TO.
func (s *session) Helo(name string, m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("HELO", &resp, &err)
	if s.conn == nil {
		return milterlib.RespContinue, nil
	}
	s.conn.Helo = name
	// The MTA does not say HELO or EHLO; a client that got as far as a
	// milter talks ESMTP nearly always.
	s.conn.ESMTP = true
	if m.Get(milterlib.MacroTlsVersion) != "" {
		s.conn.TLS = true
	}
	if name == s.judgedHelo {
		return milterlib.RespContinue, nil
	}
	s.judgedHelo = name
	v := s.srv.cfg.Chain().Helo(s.ctx, s.conn)
	if (v.Action == filters.Reject || v.Action == filters.Tempfail) && s.refusal == nil {
		s.refusal = &v
		s.conn.Log.Debug("client refused at HELO; replying at RCPT TO", "helo", name, "reply", v.Reply.String(), "reason", v.Reason)
	}
	return milterlib.RespContinue, nil
}

// MailFrom starts a transaction. The MTA's macros of this stage say who
// authenticated ({auth_authen}: no DNSBL, may relay) and give the MTA's
// queue id (i), logged beside ours.
func (s *session) MailFrom(from, esmtpArgs string, m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("MAIL", &resp, &err)
	if s.conn == nil {
		return s.reply("MAIL", filters.ReplyInternal, "MAIL before connect", false), nil
	}
	s.endTxn()
	s.stats.mail++
	if u := m.Get(milterlib.MacroAuthAuthen); u != "" {
		s.conn.AuthUser = u
	}
	if m.Get(milterlib.MacroTlsVersion) != "" {
		s.conn.TLS = true
	}
	chain := s.srv.cfg.Chain()
	t := filters.NewTransaction(s.conn, filters.NewQueueID())
	if id := m.Get(milterlib.MacroQueueId); id != "" {
		t.Log = t.Log.With("mta_queue_id", id)
	}
	t.MailFrom = from
	t.Size, t.SMTPUTF8, t.Body = mailParams(esmtpArgs)
	s.tx = &txn{t: t, chain: chain, refusal: s.refusal}
	if s.tx.refusal != nil {
		return milterlib.RespContinue, nil
	}
	if t.Size > s.srv.cfg.MaxMessageBytes {
		return s.reply("MAIL", filters.ReplyMessageTooBig, "declared SIZE over the limit", true), nil
	}
	v := chain.Mail(s.ctx, t)
	switch v.Action {
	case filters.Reject, filters.Tempfail:
		return s.reply("MAIL", v.Reply, v.Reason, true, "filter", v.Filter, "test", v.Test), nil
	case filters.Quarantine:
		s.tx.hold, s.tx.holdReason = true, v.Reason
	}
	return milterlib.RespContinue, nil
}

// mailParams reads the MAIL FROM parameters the chain knows (RFC 1870
// SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8); the MTA has checked their syntax.
func mailParams(args string) (size int64, utf8 bool, body string) {
	for _, a := range strings.Fields(args) {
		k, v, _ := strings.Cut(a, "=")
		switch strings.ToUpper(k) {
		case "SIZE":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				size = n
			}
		case "SMTPUTF8":
			utf8 = true
		case "BODY":
			body = strings.ToUpper(v)
		}
	}
	return size, utf8, body
}

// RcptTo judges one recipient; a refusal concerns that recipient alone.
func (s *session) RcptTo(rcpt, _ string, m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("RCPT", &resp, &err)
	tx := s.tx
	if tx == nil {
		return s.reply("RCPT", filters.ReplyInternal, "RCPT without MAIL", false), nil
	}
	s.stats.rcpt++
	if tx.refusal != nil {
		return s.reply("RCPT", tx.refusal.Reply, tx.refusal.Reason, false, "filter", tx.refusal.Filter, "test", tx.refusal.Test, "to", "<"+rcpt+">"), nil
	}
	v := tx.chain.Rcpt(s.ctx, tx.t, rcpt)
	switch v.Action {
	case filters.Reject, filters.Tempfail:
		return s.reply("RCPT", v.Reply, v.Reason, false, "filter", v.Filter, "test", v.Test, "to", "<"+rcpt+">"), nil
	case filters.Quarantine:
		tx.hold, tx.holdReason = true, v.Reason
	}
	tx.t.Rcpts = append(tx.t.Rcpts, rcpt)
	return milterlib.RespContinue, nil
}

// Data is not asked for when the MTA can leave it out.
func (s *session) Data(milterlib.Modifier) (*milterlib.Response, error) {
	return milterlib.RespContinue, nil
}

// Header spools one arriving field as it was written.
func (s *session) Header(name, value string, _ milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("HEADER", &resp, &err)
	tx := s.tx
	if tx == nil || tx.eoh {
		return milterlib.RespContinue, nil
	}
	tx.fields = append(tx.fields, field{name, value})
	sep := ":"
	if !s.leadingSpace {
		sep = ": "
	}
	s.spoolWrite(tx, []byte(name+sep+crlf(value)+"\r\n"))
	return milterlib.RespContinue, nil
}

// Headers ends the header section.
func (s *session) Headers(milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("EOH", &resp, &err)
	if tx := s.tx; tx != nil && !tx.eoh {
		tx.eoh = true
		s.spoolWrite(tx, []byte("\r\n"))
	}
	return milterlib.RespContinue, nil
}

// BodyChunk spools a piece of the body (CRLF line ends, as on the wire).
func (s *session) BodyChunk(chunk []byte, m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("BODY", &resp, &err)
	if tx := s.tx; tx != nil {
		if !tx.eoh {
			s.Headers(m)
		}
		s.spoolWrite(tx, chunk)
	}
	return milterlib.RespContinue, nil
}

// spoolWrite adds message bytes, up to MaxMessageBytes; past it only the
// count goes on, and the message is refused at its end.
func (s *session) spoolWrite(tx *txn, b []byte) {
	if tx.spool == nil {
		tx.spool = filters.NewSpool(filters.SpoolConfig{Dir: s.srv.cfg.SpoolDir, MemLimit: s.srv.cfg.SpoolMemory})
		tx.spoolOK = true
	}
	if tx.tooBig || !tx.spoolOK {
		return
	}
	if tx.spool.Size()+int64(len(b)) > s.srv.cfg.MaxMessageBytes {
		tx.tooBig = true
		return
	}
	if _, err := tx.spool.Write(b); err != nil {
		tx.spoolOK = false
		tx.t.Log.Error("spool", "err", err)
	}
}

// Abort forgets the message; the connection's state stays.
func (s *session) Abort(milterlib.Modifier) error {
	if s.tx != nil {
		s.tx.t.Log.Info("message aborted by the MTA")
	}
	s.endTxn()
	return nil
}

// Unknown is not asked for when the MTA can leave it out.
func (s *session) Unknown(string, milterlib.Modifier) (*milterlib.Response, error) {
	return milterlib.RespContinue, nil
}

// Cleanup is the library's last call: the MTA closed the connection (or
// went silent, or the gateway is stopping).
func (s *session) Cleanup(milterlib.Modifier) {
	defer s.srv.wg.Done()
	defer s.srv.open.Add(-1)
	s.endConnection()
}

func (s *session) endTxn() {
	if s.tx == nil {
		return
	}
	if s.tx.spool != nil {
		s.tx.spool.Close()
	}
	s.tx = nil
}

func (s *session) endConnection() {
	s.endTxn()
	if s.conn != nil {
		st := s.stats
		s.conn.Log.Info("disconnect", "mail", st.mail, "rcpt", st.rcpt, "data", st.data, "accepted", st.accepted,
			"refused", st.refused, "duration", time.Since(s.start).Round(time.Millisecond).String())
	}
	if s.cancel != nil {
		s.cancel()
	}
	*s = session{srv: s.srv, leadingSpace: s.leadingSpace}
}

// reply logs a refusal and turns it into the milter's custom reply, the
// queue id (the session id before MAIL FROM) at the end of its text. end
// also forgets the transaction (a refusal at MAIL or at the end of the
// message ends it; one at RCPT concerns that recipient alone).
func (s *session) reply(phase string, r filters.Reply, reason string, end bool, args ...any) *milterlib.Response {
	id := s.id
	if s.tx != nil {
		id = s.tx.t.QueueID
	}
	r = r.WithQueueID(id)
	s.stats.refused++
	rf := maillog.Refusal{Phase: phase, Reply: r, Reason: reason}
	rf.Filter, rf.Test, args = maillog.DecidedBy(args)
	var attrs []any
	if s.tx != nil {
		attrs = append(attrs, "from", "<"+s.tx.t.MailFrom+">")
		if phase == "END-OF-MESSAGE" {
			// The message was refused to every recipient accepted so far.
			attrs = append(attrs, "to", s.tx.t.Rcpts)
		}
	}
	if s.conn != nil {
		attrs = append(attrs, "helo", s.conn.Helo)
	}
	maillog.Reject(s.log(), rf, append(attrs, args...)...)
	if end {
		s.endTxn()
	}
	return customReply(r)
}

// customReply is the milter form of a reply: the code, then the enhanced
// code and text, on one line.
func customReply(r filters.Reply) *milterlib.Response {
	text := oneLine(r.Text)
	if r.Enhanced != "" {
		text = r.Enhanced + " " + text
	}
	resp, err := milterlib.RejectWithCodeAndReason(uint16(r.Code), text)
	if err != nil {
		// Only a code outside 400-599 or a text over 64 KiB gets here;
		// neither is in filters/reply.go.
		if r.Temporary() {
			return milterlib.RespTempFail
		}
		return milterlib.RespReject
	}
	return resp
}

// oneLine keeps a reply on one line, so the queue id ends the only line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// crlf gives a field value's folds the CRLF line ends of the wire (the MTA
// sends them as LF).
func crlf(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	v = strings.ReplaceAll(v, "\r\n", "\n")
	return strings.ReplaceAll(v, "\n", "\r\n")
}
