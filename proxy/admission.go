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
	// stressPercent of MaxConnections in use puts the proxy under stress.
	stressPercent = 80
	// maxSleeps bounds the tarpit, in ErrorSleeps.
	maxSleeps = 10
	// minEvictIdle is how long a session must have waited for a command
	// before it may be closed to make room: a client between two quick
	// commands is busy, not idle.
	minEvictIdle = time.Second
	// slotWait is how long a connection waits for a slot when every one
	// is busy, before 421.
	slotWait = 2 * time.Second
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
	// freed is closed (and replaced) whenever a slot frees.
	freed chan struct{}
}

func newAdmission() admission {
	return admission{perNet: map[netip.Prefix]int{}, store: anvil.NewMemory(0), freed: make(chan struct{})}
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
// closed once the lock is released.
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
		if v := p.oldestIdleLocked(); v != nil {
			p.leaveLocked(v)
			return filters.Reply{}, "", v
		}
		return filters.ReplyTooManyConnections, "max_connections", nil
	}
	return filters.Reply{}, "", nil
}

// oldestIdleLocked is the session that has waited longest for a command
// outside a transaction; exempt clients are kept.
func (p *Proxy) oldestIdleLocked() *clientConn {
	var old *clientConn
	oldest := time.Now().Add(-minEvictIdle).UnixNano()
	for c := range p.conns {
		if c.exempt || !c.ready.Load() || c.inTxn.Load() || c.inData.Load() {
			continue
		}
		if t := c.lastActive.Load(); t < oldest {
			old, oldest = c, t
		}
	}
	return old
}

// evict closes an idle session to make room, with 421.
func (c *clientConn) evict() {
	metrics.ConnectionsRefused.WithLabelValues("evicted_idle").Inc()
	r := filters.ReplyIdleClosed.WithQueueID(c.id)
	maillog.Reject(c.fc.Log, maillog.Refusal{Phase: "CONNECT", Reply: r, Reason: "slots full; oldest idle session closed"})
	if !c.tls.Load() {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(replyLine(r)))
	}
	c.Close()
}

// readDeadline is the deadline of the next read: in a message, the
// inactivity timeout from now; between commands, the command's deadline,
// set at its first read (after the previous reply) and not moved by later
// reads; never after the session's end.
func (c *clientConn) readDeadline(now time.Time) (time.Time, string) {
	d := time.Duration(c.readTimeout.Load())
	var dl time.Time
	what := "command_timeout"
	switch {
	case c.inData.Load():
		dl, what = now.Add(d), "data_timeout"
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

// timeout ends a session at a deadline with 421 4.4.2 (under TLS go-smtp
// writes its own).
func (c *clientConn) timeout() error {
	r := filters.ReplyTimeout.WithQueueID(c.id)
	maillog.Reject(c.fc.Log, maillog.Refusal{Phase: "CONNECT", Test: c.deadlineKind, Reply: r,
		Reason: "no complete command in time"}, "after", time.Since(c.start).Round(time.Millisecond).String())
	if c.tls.Load() {
		return errTimeout{}
	}
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(replyLine(r)))
	return io.EOF
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// beforeReply counts the error replies of a session (4xx and 5xx but the
// closing 421s), tarpits them after SoftErrors and ends the session after
// MaxErrors, as Postfix's smtpd does.
func (p *Proxy) beforeReply(sc *smtp.Conn, code int) *smtp.SMTPError {
	c := clientOf(sc)
	if c == nil || c.exempt || code < 400 || code == 421 {
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
