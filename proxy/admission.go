package proxy

// Connection admission under a flood, after Postfix's postscreen, anvil and
// smtpd's stress mode: connections are counted per client address and per
// client network (/24 for IPv4, /64 for IPv6); when slots run short, idle
// sessions get a short command deadline and, once none is left, the oldest
// idle one is closed with 421 so the newcomer gets its slot; relay and
// allow-listed networks always get one. Every command has a deadline that
// reading does not move, and a whole session has one too, so a client
// trickling a byte every few seconds cannot keep its slot.

import (
	"context"
	"crypto/tls"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/anvil"
	"mailguard/filters"
	"mailguard/maillog"
	"mailguard/metrics"
)

// Abuse configures the defences against clients that hold slots, talk out
// of turn, make errors or come too often. Zero values take the defaults
// documented on each field.
type Abuse struct {
	// MaxConnectionsPerNetwork bounds the connections from one client
	// network, a /24 for IPv4 and a /64 for IPv6 (default 50).
	MaxConnectionsPerNetwork int
	// SessionTimeout bounds a whole session, from connect to the end
	// (default 30 minutes); a client still connected then gets 421 4.4.2.
	SessionTimeout time.Duration
	// StressTimeout is the command deadline of sessions while more than
	// 80% of MaxConnections are in use (default 10s; Postfix's
	// smtpd_timeout under stress).
	StressTimeout time.Duration
	// ExemptNetworks always get a slot, and no rate limit, error limit or
	// pregreet delay (the relay and allow-listed networks).
	ExemptNetworks []netip.Prefix
	// MaxErrors refused or malformed commands end a session with 421 4.7.0
	// (default 10, Postfix's smtpd_hard_error_limit); after SoftErrors
	// (default 5) each error reply waits ErrorSleep (default 1s) more than
	// the one before, up to 10 ErrorSleeps.
	MaxErrors  int
	SoftErrors int
	ErrorSleep time.Duration
	// GreetDelay is the pregreet test (0 is off): the banner's first line
	// is sent at once, its last after GreetDelay, and a client that talks
	// before then gets 554 5.5.1 and is dropped. A client that passed is
	// not delayed again for GreetTTL (default 24 hours).
	GreetDelay time.Duration
	GreetTTL   time.Duration
	// ConnectionRate bounds connections per client address per minute
	// (default 60; Postfix's smtpd_client_connection_rate_limit); over it,
	// 421 4.7.0 at connect.
	ConnectionRate int
	// MessageRate and RecipientRate bound messages (MAIL FROM) and
	// recipients per client address per hour (defaults 1000 and 5000);
	// over them, 450 4.7.1.
	MessageRate   int
	RecipientRate int
	// AuthFailureRate bounds failed AUTH attempts per client address per
	// hour (default 10); the next attempt gets 421 4.7.0 and the session
	// ends.
	AuthFailureRate int
	// MinDataRate is the least rate, in bytes a second, at which a message
	// must arrive (default 500, Postfix's smtpd_min_data_rate): a message
	// has a budget of time, at first the data timeout (or StressTimeout
	// under stress); each read spends the time it waited and earns a second
	// for every MinDataRate bytes, never above the data timeout. A client
	// whose budget runs out gets 421 4.4.2 and the session ends; the part
	// of the message received is dropped.
	MinDataRate int
	// Store keeps the counters and the pregreet passes (default an
	// in-memory anvil.Memory, shared by every reload of a Proxy).
	Store anvil.Store
}

// Defaults of the abuse limits.
const (
	DefaultMaxConnectionsPerNetwork = 50
	DefaultSessionTimeout           = 30 * time.Minute
	DefaultStressTimeout            = 10 * time.Second
	DefaultMaxErrors                = 10
	DefaultSoftErrors               = 5
	DefaultErrorSleep               = time.Second
	DefaultGreetTTL                 = 24 * time.Hour
	DefaultConnectionRate           = 60
	DefaultMessageRate              = 1000
	DefaultRecipientRate            = 5000
	DefaultAuthFailureRate          = 10
	DefaultMinDataRate              = 500
	// stressPercent of MaxConnections in use puts the proxy under stress.
	stressPercent = 80
	// maxSleeps bounds the tarpit, in ErrorSleeps.
	maxSleeps = 10
	// minEvictIdle is how long a session must have waited for a command
	// before it may be closed to make room: a client between two quick
	// commands is busy, not idle.
	minEvictIdle = time.Second
	// slotWait is how long a connection waits for a slot when every one
	// is busy, before 421; it looks again every slotRecheck, as sessions
	// become idle long enough to give way.
	slotWait    = 2 * time.Second
	slotRecheck = 100 * time.Millisecond
	// evictPenalty is how long a client whose idle session was evicted
	// may not evict another's (it still takes a free slot).
	evictPenalty = time.Minute
	maxPenalties = 1 << 16
)

func (a *Abuse) prepare(p *Proxy) {
	setDefault(&a.MaxConnectionsPerNetwork, DefaultMaxConnectionsPerNetwork)
	setDefault(&a.SessionTimeout, DefaultSessionTimeout)
	setDefault(&a.StressTimeout, DefaultStressTimeout)
	setDefault(&a.MaxErrors, DefaultMaxErrors)
	setDefault(&a.SoftErrors, DefaultSoftErrors)
	setDefault(&a.ErrorSleep, DefaultErrorSleep)
	setDefault(&a.GreetTTL, DefaultGreetTTL)
	setDefault(&a.ConnectionRate, DefaultConnectionRate)
	setDefault(&a.MessageRate, DefaultMessageRate)
	setDefault(&a.RecipientRate, DefaultRecipientRate)
	setDefault(&a.AuthFailureRate, DefaultAuthFailureRate)
	setDefault(&a.MinDataRate, DefaultMinDataRate)
	if a.Store == nil && p != nil {
		a.Store = p.adm.store
	}
}

// admission is the Proxy's state for Abuse, under Proxy.mu unless atomic.
type admission struct {
	perNet map[netip.Prefix]int
	// open counts open connections, read without the lock on every read.
	open  atomic.Int32
	store anvil.Store
	// freed holds a token when a slot was freed: one connection waiting
	// for a slot takes it and looks again (the others look again on their
	// own, every slotRecheck), so a freed slot does not wake them all.
	freed chan struct{}
	// penalty holds the clients whose idle session was closed to make
	// room, with when they may close another's again. Idle slot holders
	// that reconnect at once would otherwise close each other's sessions
	// for ever, none would stay idle long enough to give way, and a
	// newcomer would find no slot.
	penalty map[netip.Addr]time.Time
	// penaltySweep is the size at which penalty is next swept of expired
	// entries: twice what a sweep left, so sweeps cost O(1) per entry.
	penaltySweep int
	// greeting counts the sessions taking the pregreet test; idleNotBefore
	// (Unix nanoseconds) is when a session may first have been idle long
	// enough to evict, from the last look that found none: connections
	// waiting for a slot look again often, and need not go through every
	// session each time.
	greeting      atomic.Int32
	idleNotBefore int64
}

func newAdmission() admission {
	return admission{perNet: map[netip.Prefix]int{}, store: anvil.NewMemory(0), freed: make(chan struct{}, 1),
		penalty: map[netip.Addr]time.Time{}, penaltySweep: maxPenalties / 16}
}

// penalisedLocked reports whether ip may not close an idle session to
// make room now; p.mu is held.
func (p *Proxy) penalisedLocked(ip netip.Addr, now time.Time) bool {
	until, ok := p.adm.penalty[ip]
	return ok && now.Before(until)
}

// penaliseLocked bars ip from closing idle sessions for evictPenalty; p.mu
// is held. The map is bounded: expired entries go when it has doubled
// since the last sweep, all of them past maxPenalties.
func (p *Proxy) penaliseLocked(ip netip.Addr, now time.Time) {
	a := &p.adm
	if len(a.penalty) >= a.penaltySweep {
		for k, t := range a.penalty {
			if !now.Before(t) {
				delete(a.penalty, k)
			}
		}
		if len(a.penalty) >= maxPenalties {
			clear(a.penalty)
		}
		a.penaltySweep = min(max(2*len(a.penalty), maxPenalties/16), maxPenalties)
	}
	a.penalty[ip] = now.Add(evictPenalty)
}

// clientNetwork is the network a client's slots are counted in.
func clientNetwork(ip netip.Addr) netip.Prefix {
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (a *Abuse) exempt(ip netip.Addr) bool {
	for _, n := range a.ExemptNetworks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// stressed reports whether slots run short.
func (p *Proxy) stressed(cfg *Config) bool {
	return int(p.adm.open.Load())*100 >= cfg.MaxConnections*stressPercent
}

// limitsLocked checks the connection limits for c; p.mu is held. A full
// proxy makes room by evicting its oldest idle session, returned to be
// closed once the lock is released, unless c's own idle session was
// evicted in the last evictPenalty.
func (p *Proxy) limitsLocked(c *clientConn) (r filters.Reply, reason string, evict *clientConn) {
	if c.exempt {
		return filters.Reply{}, "", nil
	}
	switch {
	case p.perIP[c.ip] >= c.cfg.MaxConnectionsPerIP:
		return filters.ReplyTooManyFromClient, "max_connections_per_ip", nil
	case p.adm.perNet[c.net] >= c.cfg.Abuse.MaxConnectionsPerNetwork:
		return filters.ReplyTooManyFromClient, "max_connections_per_network", nil
	case len(p.conns) >= c.cfg.MaxConnections:
		now := time.Now()
		if p.penalisedLocked(c.ip, now) {
			return filters.ReplyTooManyConnections, "max_connections", nil
		}
		if v := p.oldestIdleLocked(now, c.passed); v != nil {
			// The slot goes to c at once: nobody waiting is told.
			p.releaseLocked(v)
			p.penaliseLocked(v.ip, now)
			return filters.Reply{}, "", v
		}
		return filters.ReplyTooManyConnections, "max_connections", nil
	}
	return filters.Reply{}, "", nil
}

// oldestIdleLocked is the session that has waited longest for a command
// outside a transaction; exempt clients are kept. For a newcomer that passed
// the pregreet test (passed), a client still taking it goes first, as
// postscreen lets a client it knows skip the queue: idle slot holders that
// come back at once, failing or passing the test, would otherwise keep every
// session too young to give way.
func (p *Proxy) oldestIdleLocked(now time.Time, passed bool) *clientConn {
	greeters := passed && p.adm.greeting.Load() > 0
	if !greeters && now.UnixNano() < p.adm.idleNotBefore {
		return nil
	}
	var old *clientConn
	oldest := now.Add(-minEvictIdle).UnixNano()
	// Sessions becoming idle from now on are not old enough before
	// next.
	next := now.Add(minEvictIdle).UnixNano()
	defer func() {
		if old == nil {
			p.adm.idleNotBefore = next
		}
	}()
	for c := range p.conns {
		if c.exempt {
			continue
		}
		if passed && c.greeting.Load() {
			return c
		}
		if !c.ready.Load() || c.inTxn.Load() || c.inData.Load() {
			continue
		}
		t := c.lastActive.Load()
		if t < oldest {
			old, oldest = c, t
		}
		next = min(next, t+int64(minEvictIdle))
	}
	return old
}

// evict closes an idle session to make room, with 421. Its slot is already
// given back. The session's own goroutine writes the 421, woken from its
// read, so that under TLS the reply goes through the TLS connection (which
// only that goroutine knows); a session that does not come back to read in
// time is closed without it.
func (c *clientConn) evict() {
	metrics.ConnectionsRefused.WithLabelValues("evicted_idle").Inc()
	r := filters.ReplyIdleClosed.WithQueueID(c.id)
	log, reason := c.admitLog, "slots full; session taking the pregreet test closed for a client that passed it"
	if c.ready.Load() {
		log, reason = c.fc.Log, "slots full; oldest idle session closed"
	}
	maillog.Reject(log, maillog.Refusal{Phase: "CONNECT", Reply: r, Reason: reason})
	c.evicted.Store(true)
	c.Conn.SetReadDeadline(time.Now())
	time.AfterFunc(evictGrace, func() { c.Close() })
}

// evictGrace is how long an evicted session has to say its 421.
const evictGrace = 5 * time.Second

// sayEvicted writes an evicted session's 421, once, and ends the read.
func (c *clientConn) sayEvicted() error {
	if c.evictSaid.CompareAndSwap(false, true) {
		c.sayClosing(filters.ReplyIdleClosed.WithQueueID(c.id))
	}
	return io.EOF
}

// sawReply is told of every reply go-smtp writes (from the connection's
// goroutine): the first one (the banner) gives go-smtp's connection, and a
// 220 after it is STARTTLS's, a TLS handshake follows.
func (c *clientConn) sawReply(sc *smtp.Conn, code int) {
	c.handshaking = c.sc != nil && code == 220
	c.sc = sc
}

// inHandshake reports whether the session is in a STARTTLS handshake:
// after STARTTLS's 220, before go-smtp runs the session under TLS. Only the
// connection's goroutine may ask.
func (c *clientConn) inHandshake() bool {
	if !c.handshaking || c.sc == nil {
		return false
	}
	_, ok := c.sc.Conn().(*tls.Conn)
	return !ok
}

// sayClosing writes a closing reply from the connection's goroutine,
// through TLS when the session runs under it (tls.Conn lets a write run
// beside the read in progress); in the middle of a handshake the client
// could not read it, so nothing is written.
func (c *clientConn) sayClosing(r filters.Reply) {
	var w io.Writer = c
	if c.inHandshake() {
		return
	}
	if c.sc != nil {
		if tc, ok := c.sc.Conn().(*tls.Conn); ok {
			w = tc
		}
	}
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	w.Write([]byte(replyLine(r)))
}

// readDeadline is the deadline of the next read: in a message, the
// message's budget (dataDeadline); between commands, the command's deadline,
// set at its first read (after the previous reply) and not moved by later
// reads; never after the session's end.
func (c *clientConn) readDeadline(now time.Time, data bool) (time.Time, string) {
	d := time.Duration(c.readTimeout.Load())
	var dl time.Time
	what := "command_timeout"
	switch {
	case data:
		dl, what = c.dataDeadline(now, d)
	case c.armed.Swap(false) || c.cmdDeadline.Load() == 0:
		if !c.exempt && c.p.stressed(c.cfg) && c.cfg.Abuse.StressTimeout < d {
			d = c.cfg.Abuse.StressTimeout
		}
		dl = now.Add(d)
		c.cmdDeadline.Store(dl.UnixNano())
	default:
		dl = time.Unix(0, c.cmdDeadline.Load())
	}
	if end := c.start.Add(c.cfg.Abuse.SessionTimeout); end.Before(dl) {
		dl, what = end, "session_timeout"
	}
	return dl, what
}

// dataDeadline is the deadline of a read inside a message: Postfix's
// per-request deadline with smtpd_min_data_rate. The message has a budget
// of time, at first limit (the data timeout, or StressTimeout under
// stress); each read spends the time it waited (spendData), and the message
// bytes it brought earn a second for every Abuse.MinDataRate of them, the
// budget never above limit. A client sending steadily keeps it full, so limit is then the
// inactivity timeout RFC 5321 asks for; one trickling spends it. Exempt
// clients have the inactivity timeout only.
func (c *clientConn) dataDeadline(now time.Time, limit time.Duration) (time.Time, string) {
	if c.exempt {
		return now.Add(limit), "data_timeout"
	}
	if c.p.stressed(c.cfg) && c.cfg.Abuse.StressTimeout < limit {
		limit = c.cfg.Abuse.StressTimeout
	}
	// The bytes the message's reader took since the last read (as
	// written, after TLS) earn their time.
	earned := c.dataEarned.Swap(0)
	c.dataBudget += time.Duration(earned * int64(time.Second) / int64(c.cfg.Abuse.MinDataRate))
	if c.dataFresh.Swap(false) || c.dataBudget > limit {
		c.dataBudget = limit
	}
	if c.dataBudget < limit {
		// Cut before a full data timeout of silence: the data came
		// too slowly.
		return now.Add(max(c.dataBudget, 0)), "min_data_rate"
	}
	return now.Add(limit), "data_timeout"
}

// spendData charges the time a read inside a message waited, from start,
// to the message's budget.
func (c *clientConn) spendData(start time.Time) {
	if !c.exempt {
		c.dataBudget -= time.Since(start)
	}
}

// timeout ends a session at a command's deadline with 421 4.4.2.
func (c *clientConn) timeout() error {
	r := filters.ReplyTimeout.WithQueueID(c.id)
	maillog.Reject(c.fc.Log, maillog.Refusal{Phase: "CONNECT", Test: c.deadlineKind, Reply: r,
		Reason: "no complete command in time"}, "after", time.Since(c.start).Round(time.Millisecond).String())
	c.sayClosing(r)
	return io.EOF
}

// errDataCut is a message's read cut at its deadline. It is a temporary
// net.Error, so crypto/tls passes it on without keeping it for every later
// read, and it wraps the reply: go-smtp sends that for a BDAT chunk, and
// Session.Data for DATA.
type errDataCut struct{ reply *smtp.SMTPError }

func (e errDataCut) Error() string { return "message cut at its deadline: " + e.reply.Error() }
func (e errDataCut) Unwrap() error { return e.reply }
func (errDataCut) Timeout() bool   { return true }
func (errDataCut) Temporary() bool { return true }

// dataCutReply is the reply to a message cut at the deadline named what.
func dataCutReply(what string) filters.Reply {
	if what == "min_data_rate" {
		return filters.ReplyDataTooSlow
	}
	return filters.ReplyTimeout
}

// dataQueueID is the queue id of the message being read, or the session's.
func (c *clientConn) dataQueueID() string {
	if id := c.dataID.Load(); id != nil {
		return *id
	}
	return c.id
}

// beforeReply counts the error replies of a session (4xx and 5xx but the
// closing 421s), tarpits them after SoftErrors and ends the session after
// MaxErrors, as Postfix's smtpd does.
func (p *Proxy) beforeReply(sc *smtp.Conn, code int) *smtp.SMTPError {
	c := clientOf(sc)
	if c == nil {
		return nil
	}
	c.sawReply(sc, code)
	if c.exempt || code < 400 || code == 421 {
		return nil
	}
	a := &c.cfg.Abuse
	n := int(c.errors.Add(1))
	if n > a.SoftErrors {
		d := min(time.Duration(n-a.SoftErrors), maxSleeps) * a.ErrorSleep
		c.fc.Log.Info("tarpit", "errors", n, "delay", d.String())
		metrics.Tarpits.Inc()
		select {
		case <-time.After(d):
		case <-c.ctx.Done():
		}
	}
	if n < a.MaxErrors {
		return nil
	}
	r := filters.ReplyTooManyErrors.WithQueueID(c.id)
	maillog.Reject(c.fc.Log, maillog.Refusal{Phase: "CONNECT", Test: "max_errors", Reply: r}, "errors", n)
	return smtpError(r)
}

// rateLimited counts one event of kind for the client and reports whether
// it is over limit per window. A store error lets the event through: a
// rate limit must not stop mail when its store is down. The store logs an
// outage once (anvil/redisanvil); a line per event here would flood the
// log in the very floods the limits are for, so they are debug lines.
func (c *clientConn) rateLimited(ctx context.Context, kind string, limit int, window time.Duration) bool {
	if c.exempt || limit <= 0 {
		return false
	}
	n, err := c.cfg.Abuse.Store.Incr(ctx, kind+":"+c.ip.String(), 1, window)
	if err != nil {
		c.p.log.Debug("rate limit store failed; not limiting", "kind", kind, "err", err)
		return false
	}
	return n > int64(limit)
}

// authFailuresOver reports whether the client failed AUTH
// Abuse.AuthFailureRate times in the last hour.
func (c *clientConn) authFailuresOver(ctx context.Context) bool {
	a := &c.cfg.Abuse
	if c.exempt || a.AuthFailureRate <= 0 {
		return false
	}
	n, err := a.Store.Incr(ctx, "authfail:"+c.ip.String(), 0, time.Hour)
	return err == nil && n >= int64(a.AuthFailureRate)
}

// authFailed counts a failed AUTH.
func (c *clientConn) authFailed(ctx context.Context) {
	if _, err := c.cfg.Abuse.Store.Incr(ctx, "authfail:"+c.ip.String(), 1, time.Hour); err != nil {
		c.p.log.Debug("rate limit store failed", "kind", "authfail", "err", err)
	}
}

// endWith logs a closing refusal and returns it; the session ends after
// the reply is written.
func (c *clientConn) endWith(phase string, r filters.Reply, test string) error {
	r = r.WithQueueID(c.id)
	c.stats.refused.Add(1)
	maillog.Reject(c.fc.Log, maillog.Refusal{Phase: phase, Test: test, Reply: r})
	c.ended.Store(true)
	return smtpError(r)
}
