package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/envelope"
	"mailguard/filters"
	"mailguard/internal/bufpool"
	"mailguard/maillog"
	"mailguard/metrics"
	"mailguard/relay"
)

// session adapts go-smtp's events to the chain and the backend. go-smtp
// calls its methods from the connection's goroutine, except Data for BDAT
// (CHUNKING), which runs beside it while RSET or a closing connection may
// call Reset or Logout; mu keeps those waiting until Data returns (go-smtp
// closes the message pipe first, so Data returns promptly).
type session struct {
	mu sync.Mutex
	p  *Proxy
	cc *clientConn
	sc *smtp.Conn
	tx *txn
	// be is the backend connection, kept across the session's
	// transactions and reset between them; bePooled is true until it has
	// answered a command for this session.
	be       *relay.Client
	bePooled bool
	// judgedHelo is the HELO name chain.Helo last ran on.
	judgedHelo  string
	judgedESMTP bool
}

// txn is one transaction, MAIL FROM to the end of DATA.
type txn struct {
	t     *filters.Transaction
	chain *filters.Chain
	// refusal is the connection's refusal, answered to every RCPT TO.
	refusal *filters.Verdict
	// hold is set when an earlier phase asked for quarantine.
	hold       bool
	holdReason string
	// backendOpen is true while the backend has a transaction open.
	backendOpen bool
}

func (p *Proxy) newSession(c *smtp.Conn) (smtp.Session, error) {
	cc := clientOf(c)
	if cc == nil || cc.fc == nil {
		p.log.Error("session without an admitted connection", "remote", c.Conn().RemoteAddr().String())
		return nil, smtpError(filters.ReplyInternal)
	}
	_, isTLS := c.TLSConnectionState()
	cc.fc.TLS = isTLS
	cc.fc.Helo = c.Hostname()
	// HELO until go-smtp asks for the AUTH mechanisms, which it does on
	// EHLO only.
	cc.fc.ESMTP = false
	return &session{p: p, cc: cc, sc: c}, nil
}

func (s *session) log() *slog.Logger {
	if s.tx != nil {
		return s.tx.t.Log
	}
	return s.cc.fc.Log
}

// ctx is the connection's context: cancelled when the client goes away.
func (s *session) ctx() context.Context { return s.cc.ctx }

// refuse logs a refusal and returns it as go-smtp's error, the queue id (or
// the session id before MAIL FROM) at the end of its text. A "filter" and a
// "test" among args name who decided (see maillog.DecidedBy).
func (s *session) refuse(phase string, r filters.Reply, reason string, args ...any) error {
	id := s.cc.id
	if s.tx != nil {
		id = s.tx.t.QueueID
	}
	r = r.WithQueueID(id)
	s.cc.stats.refused.Add(1)
	rf := maillog.Refusal{Phase: phase, Reply: r, Reason: reason}
	rf.Filter, rf.Test, args = maillog.DecidedBy(args)
	var attrs []any
	if s.tx != nil {
		attrs = append(attrs, "from", "<"+s.tx.t.MailFrom+">")
		if phase == "DATA" {
			// The message was refused to every recipient accepted so far.
			attrs = append(attrs, "to", s.tx.t.Rcpts)
		}
	}
	attrs = append(attrs, "helo", s.sc.Hostname())
	maillog.Reject(s.log(), rf, append(attrs, args...)...)
	return smtpError(r)
}

// heloChecks runs chain.Helo when the HELO name (or HELO/EHLO) changed
// since it last ran. A refusal waits for RCPT TO, like a Connect one.
func (s *session) heloChecks(chain *filters.Chain) {
	fc := s.cc.fc
	fc.Helo = s.sc.Hostname()
	if fc.Helo == s.judgedHelo && fc.ESMTP == s.judgedESMTP {
		return
	}
	s.judgedHelo, s.judgedESMTP = fc.Helo, fc.ESMTP
	v := chain.Helo(s.ctx(), fc)
	if (v.Action == filters.Reject || v.Action == filters.Tempfail) && s.cc.refusal.Load() == nil {
		s.cc.refusal.Store(&v)
		fc.Log.Debug("client refused at HELO; replying at RCPT TO", "helo", fc.Helo, "reply", v.Reply.String(), "reason", v.Reason)
	}
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil {
		s.reset()
	}
	s.cc.stats.mail.Add(1)
	chain := s.p.chain.Load()
	s.heloChecks(chain)
	t := filters.NewTransaction(s.cc.fc, newQueueID())
	if opts != nil {
		t.Size, t.SMTPUTF8, t.Body = opts.Size, opts.UTF8, string(opts.Body)
	}
	// What the chain checks is what the backend gets: the canonical form.
	raw := from
	from, aerr := envelope.Canonical(raw, false, t.SMTPUTF8)
	t.MailFrom = from
	s.tx = &txn{t: t, chain: chain, refusal: s.cc.refusal.Load()}
	metrics.Transactions.Inc()
	s.cc.inTxn.Store(true)
	if aerr != nil {
		return s.abort("MAIL", addressReply(aerr, filters.ReplyBadSenderSyntax), aerr.Error(), "raw_from", strconv.Quote(raw))
	}
	if s.tx.refusal != nil {
		// Accepted only to refuse each recipient; the backend is not
		// bothered.
		return nil
	}
	if t.Size > s.cc.cfg.MaxMessageBytes {
		return s.abort("MAIL", filters.ReplyMessageTooBig, "declared SIZE over the limit")
	}
	if s.cc.rateLimited(s.ctx(), "mail", s.cc.cfg.Abuse.MessageRate, time.Hour) {
		return s.abort("MAIL", filters.ReplyMessageRate, "limits.message_rate reached", "test", "message_rate")
	}
	v := chain.Mail(s.ctx(), t)
	switch v.Action {
	case filters.Reject, filters.Tempfail:
		return s.abort("MAIL", v.Reply, v.Reason, "filter", v.Filter, "test", v.Test)
	case filters.Quarantine:
		s.tx.hold, s.tx.holdReason = true, v.Reason
	}
	if err := s.openBackend(); err != nil {
		return s.abort("MAIL", s.unavailable(), err.Error())
	}
	mo := relay.MailOptions{Size: t.Size, SMTPUTF8: t.SMTPUTF8, EightBit: t.Body == "8BITMIME"}
	r, err := s.backendMail(t, from, mo)
	if s.bePooled && (err != nil || r.Code == 421) {
		// The backend closed the idle connection meanwhile; the others
		// in the pool are likely as old, so dial afresh.
		s.dropBackend()
		if err = s.dialBackend(); err != nil {
			return s.abort("MAIL", s.unavailable(), err.Error())
		}
		r, err = s.backendMail(t, from, mo)
	}
	s.bePooled = false
	switch {
	case err != nil:
		s.dropBackend()
		return s.abort("MAIL", s.unavailable(), err.Error())
	case r.Code/100 != 2:
		return s.abort("MAIL", backendReply(r), "backend refused the sender", "backend_reply", r.String())
	}
	s.tx.backendOpen = true
	return nil
}

// abort refuses the transaction's MAIL FROM: go-smtp then forgets it, and
// so does the session.
func (s *session) abort(phase string, r filters.Reply, reason string, args ...any) error {
	err := s.refuse(phase, r, reason, args...)
	s.reset()
	return err
}

// openBackend connects to the backend unless the session already has a
// usable connection.
//
// The backend is the current configuration's, not the one the connection
// was accepted under: a reload's new backend takes every transaction that
// starts after it.
func (s *session) openBackend() error {
	backend := s.p.backend()
	if s.be != nil && s.be.Usable() && s.be.Addr() == backend {
		return nil
	}
	s.dropBackend()
	if be := s.p.pool.get(backend); be != nil {
		s.be, s.bePooled = be, true
		return nil
	}
	return s.dialBackend()
}

// dialBackend opens a new backend connection.
func (s *session) dialBackend() error {
	start := time.Now()
	be, err := relay.Dial(s.ctx(), relay.Config{Addr: s.p.backend(), Hostname: s.cc.cfg.Hostname,
		Timeout: s.cc.cfg.BackendTimeout, DataTimeout: s.cc.cfg.DataTimeout})
	observeBackend("CONNECT", start, err)
	if err != nil {
		return err
	}
	ok, _ := be.Extension("SMTPUTF8")
	s.p.caps.set(ok)
	s.be = be
	return nil
}

func (s *session) dropBackend() {
	if s.be != nil {
		s.be.Close()
		s.be = nil
	}
	if s.tx != nil {
		s.tx.backendOpen = false
	}
}

// addressReply is the reply to an address envelope.Canonical refused.
func addressReply(err error, syntax filters.Reply) filters.Reply {
	if errors.Is(err, envelope.ErrNonASCII) {
		return filters.ReplyNonASCIIAddress
	}
	return syntax
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.tx
	if tx == nil {
		return smtpError(filters.ReplyNeedMail)
	}
	s.cc.stats.rcpt.Add(1)
	t := tx.t
	if tx.refusal != nil {
		return s.refuse("RCPT", tx.refusal.Reply, tx.refusal.Reason, "filter", tx.refusal.Filter, "test", tx.refusal.Test, "to", "<"+to+">")
	}
	if len(t.Rcpts) >= s.cc.cfg.MaxRecipients {
		return s.refuse("RCPT", filters.ReplyTooManyRecipients, "", "to", "<"+to+">")
	}
	if s.cc.rateLimited(s.ctx(), "rcpt", s.cc.cfg.Abuse.RecipientRate, time.Hour) {
		return s.refuse("RCPT", filters.ReplyRecipientRate, "limits.recipient_rate reached", "test", "recipient_rate", "to", "<"+to+">")
	}
	raw := to
	to, err := envelope.Canonical(raw, true, t.SMTPUTF8)
	if err != nil {
		return s.refuse("RCPT", addressReply(err, filters.ReplyBadRecipientSyntax), err.Error(), "to", strconv.Quote(raw))
	}
	// A source route is dropped by the SMTP server; the chain sees it, so
	// it is refused as the relay trick it is, in every spelling.
	path := to
	if opts != nil && opts.SourceRoute != "" {
		path = "@" + opts.SourceRoute + ":" + to
	}
	v := tx.chain.Rcpt(s.ctx(), t, path)
	switch v.Action {
	case filters.Reject, filters.Tempfail:
		return s.refuse("RCPT", v.Reply, v.Reason, "filter", v.Filter, "test", v.Test, "to", "<"+to+">")
	case filters.Quarantine:
		tx.hold, tx.holdReason = true, v.Reason
	}
	if s.be == nil || !tx.backendOpen {
		return s.refuse("RCPT", filters.ReplyBackendUnavailable, "backend connection lost", "to", "<"+to+">")
	}
	start := time.Now()
	r, err := s.be.Rcpt(s.ctx(), to)
	observeBackend("RCPT", start, err)
	switch {
	case err != nil:
		s.dropBackend()
		return s.refuse("RCPT", s.unavailable(), err.Error(), "to", "<"+to+">")
	case r.Code/100 != 2:
		// A 5xx is the backend's own reply; a 4xx becomes 451 4.4.1 with
		// the backend's words in it, as in every other phase.
		return s.refuse("RCPT", backendReply(r), "backend refused the recipient", "to", "<"+to+">", "backend_reply", r.String())
	}
	t.Rcpts = append(t.Rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.tx
	if tx == nil || len(tx.t.Rcpts) == 0 {
		return smtpError(filters.ReplyNeedRcpt)
	}
	s.cc.stats.data.Add(1)
	t := tx.t
	spool := filters.NewSpool(filters.SpoolConfig{Dir: s.cc.cfg.SpoolDir, MemLimit: s.cc.cfg.SpoolMemory})
	defer spool.Close()

	s.cc.readTimeout.Store(int64(s.cc.cfg.DataBlockTimeout))
	s.cc.dataEarned.Store(0)
	s.cc.dataID.Store(&t.QueueID)
	s.cc.dataFresh.Store(true)
	s.cc.inData.Store(true)
	lines := &lineLimiter{w: &lineEnds{w: spool}, max: s.cc.cfg.MaxLineLength}
	_, err := bufpool.Copy(lines, dataCounter{r, &s.cc.dataEarned})
	if err == nil {
		err = lines.Close()
	}
	s.cc.readTimeout.Store(int64(s.cc.cfg.CommandTimeout))
	s.cc.inData.Store(false)
	if err != nil {
		s.resetBackend()
		return s.dataError(err, spool.Size())
	}
	if lines.overAt > 0 {
		// Read to the end, so the client hears this while it listens.
		s.resetBackend()
		return s.refuse("DATA", filters.ReplyMalformed.Format(fmt.Sprintf("line %d longer than %d octets", lines.overAt, lines.max)), "line over max_line_length")
	}
	m, err := spool.Message()
	if err != nil {
		s.resetBackend()
		return s.refuse("DATA", internal(t.Log, t.QueueID, "spool", err), "")
	}
	ctx, cancel := context.WithTimeout(s.ctx(), s.cc.cfg.DataTimeout)
	defer cancel()
	out := tx.chain.Data(ctx, t, m)
	action := out.Verdict.Action
	reason := out.Verdict.Reason
	if tx.hold && action < filters.Quarantine {
		action, reason = filters.Quarantine, tx.holdReason
	}
	attrs := []any{"size", m.Size, "nrcpt", len(t.Rcpts), "score", filters.FormatPoints(out.Score), "tests", filters.FormatTests(out.Tests)}
	switch action {
	case filters.Reject, filters.Tempfail:
		s.resetBackend()
		test := out.Verdict.Test
		if test == "" {
			test = maillog.DecidingTest(out)
		}
		return s.refuse("DATA", out.Verdict.Reply, reason, append(attrs, "filter", out.Verdict.Filter, "test", test)...)
	case filters.Quarantine:
		s.resetBackend()
		return s.quarantine(ctx, out, m, reason, attrs)
	}
	return s.relay(ctx, out, m, attrs)
}

// dataError answers a message that could not be received whole.
func (s *session) dataError(err error, size int64) error {
	t := s.tx.t
	var ne net.Error
	switch {
	case s.cc.dataCutBy.Load() != nil:
		// Cut at its deadline: the client still sending hears why, and
		// the session ends (what arrived is dropped, nothing relayed).
		// A BDAT chunk's reply is go-smtp's, from the cut read; this is
		// then the decision's line only.
		test := *s.cc.dataCutBy.Load()
		return s.refuse("DATA", dataCutReply(test), "message not received in time", "test", test, "size", size)
	case errors.Is(err, smtp.ErrDataTooLarge):
		return s.refuse("DATA", filters.ReplyMessageTooBig, "message over max_message_bytes", "size", size)
	case errors.Is(err, errCut):
		return s.refuse("DATA", filters.ReplyShutdownCut, "shutdown deadline reached while receiving the message", "size", size)
	case errors.Is(err, smtp.ErrDataReset):
		// BDAT cut short by RSET or a closed connection: nobody hears
		// a reply.
		t.Log.Info("message aborted by the client", "size", size)
		return smtpError(filters.ReplyTimeout.WithQueueID(t.QueueID))
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF):
		// The client is gone or silent; whatever is sent may not arrive.
		t.Log.Info("message not received", "err", err, "size", size)
		return smtpError(filters.ReplyTimeout.WithQueueID(t.QueueID))
	}
	return s.refuse("DATA", internal(t.Log, t.QueueID, "receiving message", err), "")
}

// rewritten returns the message as it goes out, produced by a goroutine;
// wait must be called after the reader is done with.
func (s *session) rewritten(out filters.Outcome, m *filters.Message) (r io.Reader, wait func()) {
	t := s.tx.t
	fc := s.cc.fc
	top := received(receivedInfo{Helo: fc.Helo, ClientName: fc.ClientName, ClientIP: fc.ClientIP,
		Hostname: s.cc.cfg.Hostname, Protocol: protocol(fc), QueueID: t.QueueID, Rcpts: t.Rcpts, Date: time.Now()})
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		src, err := m.Open()
		if err == nil {
			err = writeMessage(pw, top, out.Headers, t.Stripped, src)
			src.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, func() { pr.Close(); <-done }
}

func (s *session) quarantine(ctx context.Context, out filters.Outcome, m *filters.Message, reason string, attrs []any) error {
	t := s.tx.t
	if s.cc.cfg.Holder == nil {
		return s.refuse("DATA", internal(t.Log, t.QueueID, "quarantine", errors.New("no quarantine configured")), reason, attrs...)
	}
	r, wait := s.rewritten(out, m)
	id, err := s.cc.cfg.Holder.Hold(ctx, t, out, r)
	wait()
	if err != nil {
		return s.refuse("DATA", internal(t.Log, t.QueueID, "quarantine", err), reason, attrs...)
	}
	maillog.Accepted(t.Log, maillog.AcceptedMessage(metrics.Quarantined, "", out, m.Size, len(t.Rcpts)), "from", "<"+t.MailFrom+">", "to", t.Rcpts, "quarantine_id", id, "reason", reason)
	return smtpError(filters.ReplyQuarantined.WithQueueID(t.QueueID))
}

func (s *session) relay(ctx context.Context, out filters.Outcome, m *filters.Message, attrs []any) error {
	t := s.tx.t
	if s.be == nil || !s.tx.backendOpen {
		return s.refuse("DATA", filters.ReplyBackendUnavailable, "backend connection lost", attrs...)
	}
	r, wait := s.rewritten(out, m)
	start := time.Now()
	rep, err := s.be.Data(ctx, r)
	observeBackend("DATA", start, err)
	wait()
	switch {
	case errors.Is(err, relay.ErrSource):
		// The message could not be written out: the connection was
		// closed without the final dot, and the fault is the gateway's.
		s.tx.backendOpen = false
		s.dropBackend()
		return s.refuse("DATA", internal(t.Log, t.QueueID, "writing the message out", err), "", attrs...)
	case err != nil:
		s.tx.backendOpen = false
		s.dropBackend()
		return s.refuse("DATA", s.unavailable(), err.Error(), attrs...)
	case rep.Code/100 != 2:
		// The refusal may be of the DATA command itself (Postfix's
		// smtpd_data_restrictions), after which the backend's transaction
		// stays open and the next MAIL FROM would get "503 5.5.1 nested
		// MAIL command": end it. A 421 has closed the connection already.
		if s.be.Usable() {
			s.resetBackend()
		} else {
			s.tx.backendOpen = false
			s.dropBackend()
		}
		return s.refuse("DATA", backendReply(rep), "backend refused the message", append(attrs, "backend_reply", rep.String())...)
	}
	s.tx.backendOpen = false
	outcome := metrics.Relayed
	if out.Tag {
		outcome = metrics.Tagged
	}
	s.cc.stats.relayed.Add(1)
	maillog.Accepted(t.Log, maillog.AcceptedMessage(outcome, "", out, m.Size, len(t.Rcpts)), "from", "<"+t.MailFrom+">", "to", t.Rcpts, "backend_reply", rep.String())
	return smtpError(filters.ReplyQueued.Format(t.QueueID))
}

// unavailable is the reply when the backend could not be talked to: 451
// 4.4.1, or 451 4.3.2 when the shutdown deadline cut the conversation.
func (s *session) unavailable() filters.Reply {
	if s.cc.cut.Load() {
		return filters.ReplyShutdownCut
	}
	return filters.ReplyBackendUnavailable
}

// resetBackend abandons the backend's side of the transaction.
func (s *session) resetBackend() {
	if s.tx == nil || !s.tx.backendOpen || s.be == nil {
		return
	}
	s.tx.backendOpen = false
	ctx, cancel := context.WithTimeout(s.ctx(), min(s.cc.cfg.BackendTimeout, 30*time.Second))
	defer cancel()
	if err := s.be.Reset(ctx); err != nil {
		s.log().Warn("backend RSET failed; closing the backend connection", "err", err)
		s.dropBackend()
	}
}

// Reset ends the transaction: after RSET, after DATA, on a new EHLO.
func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

func (s *session) reset() {
	if s.tx == nil {
		return
	}
	s.resetBackend()
	s.tx = nil
	s.cc.inTxn.Store(false)
}

// Logout is go-smtp's last call on the session; a healthy backend
// connection goes back to the pool.
func (s *session) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	if s.be != nil {
		s.p.pool.put(s.be, s.p.backend())
		s.be = nil
	}
	return nil
}

// dataCounter counts the message bytes read, after TLS and the data
// reader: what the client's time budget earns (Abuse.MinDataRate).
type dataCounter struct {
	r io.Reader
	n *atomic.Int64
}

func (d dataCounter) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	d.n.Add(int64(n))
	return n, err
}
