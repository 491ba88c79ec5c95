package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/filters"
	"mailguard/maillog"
	"mailguard/metrics"
)

// go-smtp creates a session at HELO/EHLO, not when a client connects, so the
// connect-time work happens here: the connection limits, the reverse name,
// and the chain's Connect checks (which start the client's DNS lookups
// early). Only then is the connection handed to go-smtp, which sends the
// banner.

// clientConn is an accepted connection with what the gateway knows about it.
type clientConn struct {
	net.Conn
	p *Proxy
	// cfg is the configuration of gen, the generation that accepted the
	// connection.
	cfg *Config
	gen *generation
	id  string
	ip  netip.Addr
	fc  *filters.ClientConn
	ctx context.Context
	// refusal is the Connect or Helo verdict's reply, given at each RCPT
	// TO (Postfix's smtpd_delay_reject), so the log shows who was refused
	// mail to whom.
	refusal atomic.Pointer[filters.Verdict]
	// inTxn is true from MAIL FROM to the end of the transaction; Shutdown
	// lets such connections finish.
	inTxn atomic.Bool
	// readTimeout is the inactivity limit of the next read, in
	// nanoseconds.
	readTimeout atomic.Int64
	timedOut    atomic.Bool
	// cut is set at the shutdown deadline: reads fail with errCut.
	cut atomic.Bool
	// fixedDeadline is set once go-smtp sets a read deadline itself (to
	// drain the client's input before closing): Read keeps it.
	fixedDeadline atomic.Bool
	cutSaid       atomic.Bool
	// inData is true while the session reads a message.
	inData atomic.Bool
	// ready is set once the connect-time work is done and go-smtp has
	// the connection; Shutdown leaves connections still being admitted to
	// admit itself.
	ready atomic.Bool
	// exempt clients (relay and allow-listed networks) pass every limit;
	// net is the client network slots are counted in.
	exempt bool
	net    netip.Prefix
	// lastActive is when the session last replied (so began waiting for
	// a command), in Unix nanoseconds; bytes trickled since do not count.
	// The session waiting longest is the first evicted.
	lastActive atomic.Int64
	// armed is set by each reply: the next read starts a command and
	// sets its deadline, cmdDeadline (Unix nanoseconds).
	armed        atomic.Bool
	cmdDeadline  atomic.Int64
	deadlineKind string
	// errors counts the session's error replies.
	errors atomic.Int32
	// ended is set after a closing reply (a rate limit's 421), or when a
	// message's read was cut (Data answers it): the next read ends the
	// session.
	ended atomic.Bool
	// sc is go-smtp's connection, learnt from the session's first reply
	// (the banner); handshaking is set from STARTTLS's 220 to the next
	// reply. Only the connection's goroutine uses them, to write a closing
	// reply the client can read: through TLS when the session runs under
	// it, not at all in the middle of a handshake.
	sc          *smtp.Conn
	handshaking bool
	// evicted is set when the session is closed to make room; its read
	// wakes up, says 421 and ends the session.
	evicted   atomic.Bool
	evictSaid atomic.Bool
	// notice is set when Shutdown closes the session between
	// transactions; its read wakes up, says 421 and ends the session, as
	// an evicted one does. inGen is set while the session counts in its
	// generation's conns (under Proxy.mu): an evicted session gives its
	// slot back at once but keeps its generation's servers open until it
	// has said its 421.
	notice     atomic.Bool
	noticeSaid atomic.Bool
	inGen      bool
	// A message's time budget (Abuse.MinDataRate): dataFresh is set when a
	// message starts; dataBudget is used by the connection's goroutine
	// only. dataCutBy names the deadline that cut a message's read.
	// dataEarned counts the message's bytes not yet credited.
	dataFresh  atomic.Bool
	dataBudget time.Duration
	dataEarned atomic.Int64
	dataCutBy  atomic.Pointer[string]
	// dataID is the queue id of the message being read.
	dataID atomic.Pointer[string]
	// passed is set, before the connection takes a slot, when it need not
	// take the pregreet test (pregreet.go); greeting is set while it takes
	// it. A full proxy gives the slot of a client taking the test to one
	// that passed it. admitLog is the log until fc is set.
	passed   bool
	greeting atomic.Bool
	admitLog *slog.Logger
	// linger is set when the session ends while the client may still be
	// sending: Close shuts the sending side and reads on briefly, so the
	// last reply is not lost to a reset.
	linger atomic.Bool

	wmu       sync.Mutex
	closeOnce sync.Once
	cancel    context.CancelFunc
	start     time.Time
	stats     connStats
}

// connStats are counted for the disconnect line, as Postfix does.
type connStats struct {
	mail, rcpt, data, relayed, refused atomic.Int32
}

// admit runs the connect-time work and hands the connection to go-smtp.
func (p *Proxy) admit(nc net.Conn) {
	ap := addrPort(nc.RemoteAddr())
	g := p.gen.Load()
	c := &clientConn{Conn: nc, p: p, cfg: &g.cfg, gen: g, id: newQueueID(), ip: ap.Addr(), start: time.Now()}
	c.readTimeout.Store(int64(g.cfg.CommandTimeout))
	c.exempt, c.net = g.cfg.Abuse.exempt(c.ip), clientNetwork(c.ip)
	c.lastActive.Store(c.start.UnixNano())
	log := p.log.With("session", c.id, "client", "["+c.ip.String()+"]")
	c.admitLog = log
	if c.rateLimited(p.ctx, "conn", g.cfg.Abuse.ConnectionRate, time.Minute) {
		metrics.ConnectionsRefused.WithLabelValues("connection_rate").Inc()
		r := filters.ReplyConnectionRate.WithQueueID(c.id)
		maillog.Reject(log, maillog.Refusal{Phase: "CONNECT", Test: "connection_rate", Reply: r})
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, replyLine(r))
		nc.Close()
		return
	}

	c.passed = p.passedGreet(c)
	if r, ok := p.enter(c); !ok {
		log.Info("connection refused", "reply", r.String())
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, replyLine(r))
		nc.Close()
		return
	}
	c.ctx, c.cancel = context.WithCancel(p.ctx)
	greet := p.startGreet(c)
	name := p.reverseName(c.ctx, c.cfg, c.ip)
	client := "unknown[" + c.ip.String() + "]"
	if name != "" {
		client = name + "[" + c.ip.String() + "]"
	}
	c.fc = &filters.ClientConn{ClientIP: c.ip, ClientPort: ap.Port(), ClientName: name,
		Log: p.log.With("session", c.id, "client", client)}
	c.fc.Log.Info("connect")
	v := p.chain.Load().Connect(c.ctx, c.fc)
	if v.Action == filters.Reject || v.Action == filters.Tempfail {
		c.refusal.Store(&v)
		// The refusal's line is written at each RCPT TO, as Postfix's
		// smtpd_delay_reject does.
		c.fc.Log.Debug("client refused; replying at RCPT TO", "reply", v.Reply.String(), "reason", v.Reason)
	}
	if !p.finishGreet(c, greet) {
		return
	}
	// The wait for the first command starts now, not at connect: a client
	// that waited for its slot or its banner is not idle.
	c.lastActive.Store(time.Now().UnixNano())
	c.ready.Store(true)
	i := 0
	if p.caps.smtputf8(p) {
		i = 1
	}
	// A reload may retire g meanwhile; its successor takes the connection
	// (with the limits it was admitted under).
	for {
		if g.queues[i].push(c) {
			return
		}
		next := p.gen.Load()
		if next == g || p.isClosing() {
			// Only Shutdown closes the current generation's queues.
			c.sayShuttingDown()
			c.Close()
			return
		}
		p.mu.Lock()
		g.conns--
		next.conns++
		c.gen = next
		p.mu.Unlock()
		p.prune()
		g = next
		c.cfg = &g.cfg
	}
}

// enter counts the connection against the limits; it refuses it with the
// reply to send when a limit is reached or the proxy is shutting down.
func (p *Proxy) enter(c *clientConn) (filters.Reply, bool) {
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		metrics.ConnectionsRefused.WithLabelValues("shutting_down").Inc()
		return filters.ReplyShuttingDown.WithQueueID(c.id), false
	}
	r, reason, evicted := p.limitsLocked(c)
	for wait := time.Now().Add(slotWait); reason == "max_connections"; {
		// Full, and no session idle long enough to close: wait for a
		// slot as a connection waits in Postfix's listen queue.
		left := time.Until(wait)
		if left <= 0 {
			break
		}
		// A client that may not evict can only take a freed slot: it
		// need not look again before one is.
		recheck := slotRecheck
		if p.penalisedLocked(c.ip, time.Now()) {
			recheck = left
		}
		p.mu.Unlock()
		t := time.NewTimer(min(left, recheck))
		select {
		case <-p.adm.freed:
		case <-t.C:
		}
		t.Stop()
		p.mu.Lock()
		if p.closing.Load() {
			p.mu.Unlock()
			metrics.ConnectionsRefused.WithLabelValues("shutting_down").Inc()
			return filters.ReplyShuttingDown.WithQueueID(c.id), false
		}
		r, reason, evicted = p.limitsLocked(c)
	}
	if reason != "" {
		p.mu.Unlock()
		metrics.ConnectionsRefused.WithLabelValues(reason).Inc()
		return r.WithQueueID(c.id), false
	}
	metrics.ConnectionsAccepted.Inc()
	metrics.ConnectionsOpen.Inc()
	p.conns[c] = struct{}{}
	p.perIP[c.ip]++
	p.adm.perNet[c.net]++
	p.adm.open.Add(1)
	c.gen.conns++
	c.inGen = true
	p.mu.Unlock()
	if evicted != nil {
		evicted.evict()
	}
	return filters.Reply{}, true
}

func (p *Proxy) leave(c *clientConn) {
	p.mu.Lock()
	retired := p.leaveLocked(c)
	p.mu.Unlock()
	if retired {
		p.prune()
	}
}

// leaveLocked gives c's slot back, if an eviction did not, and tells a
// connection waiting for one; p.mu is held. It reports whether c was the
// last connection of a retired generation, whose servers can go.
func (p *Proxy) leaveLocked(c *clientConn) bool {
	if _, ok := p.conns[c]; ok {
		select {
		case p.adm.freed <- struct{}{}:
		default:
		}
		p.releaseLocked(c)
	}
	if !c.inGen {
		return false
	}
	// Closing a generation's servers closes their connections: an
	// evicted session of a retired generation keeps them open until it
	// ends, so that its 421 is written.
	c.inGen = false
	c.gen.conns--
	return c.gen != p.gen.Load() && c.gen.conns == 0
}

// releaseLocked gives c's slot back; p.mu is held. c still counts in its
// generation until it ends (leaveLocked).
func (p *Proxy) releaseLocked(c *clientConn) {
	if _, ok := p.conns[c]; !ok {
		return
	}
	delete(p.conns, c)
	metrics.ConnectionsOpen.Dec()
	if p.perIP[c.ip]--; p.perIP[c.ip] <= 0 {
		delete(p.perIP, c.ip)
	}
	if p.adm.perNet[c.net]--; p.adm.perNet[c.net] <= 0 {
		delete(p.adm.perNet, c.net)
	}
	p.adm.open.Add(-1)
	if p.closing.Load() && len(p.conns) == 0 {
		close(p.drained)
	}
}

// Read refreshes the inactivity deadline before each read and, once the
// proxy is shutting down, ends the session at the next command.
func (c *clientConn) Read(b []byte) (int, error) {
	if c.timedOut.Load() {
		return 0, os.ErrDeadlineExceeded
	}
	if err := c.wokenToClose(c.p.isClosing()); err != nil {
		return 0, err
	}
	if c.cut.Load() {
		return 0, c.cutRead()
	}
	if c.ended.Load() {
		return 0, io.EOF
	}
	var start, dl time.Time
	data := c.inData.Load()
	if !c.fixedDeadline.Load() {
		start = time.Now()
		var what string
		dl, what = c.readDeadline(start, data)
		c.deadlineKind = what
		c.Conn.SetReadDeadline(dl)
		// An eviction's or a shutdown's wake-up may have come just
		// before this deadline replaced it.
		if err := c.wokenToClose(false); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	// A shutdown's wake-up that found a transaction begun meanwhile, or a
	// TLS handshake: the transaction finishes (Shutdown lets them), the
	// handshake too, so the client can read the notice; it waits for
	// their end.
	for n == 0 && isTimeout(err) && !start.IsZero() && c.notice.Load() && (c.inTxn.Load() || c.inHandshake()) &&
		!c.cut.Load() && !c.evicted.Load() && !c.fixedDeadline.Load() && time.Now().Before(dl) {
		c.Conn.SetReadDeadline(dl)
		n, err = c.Conn.Read(b)
	}
	if data && !start.IsZero() {
		c.spendData(start)
	}
	var ne net.Error
	if err != nil && c.cut.Load() {
		return n, c.cutRead()
	}
	if errors.As(err, &ne) && ne.Timeout() && !c.fixedDeadline.Load() {
		if err := c.wokenToClose(false); err != nil {
			return n, err
		}
		if data {
			// The message is answered (nothing of it is relayed), then
			// the session ends; the client is likely still sending.
			what := c.deadlineKind
			c.dataCutBy.Store(&what)
			c.ended.Store(true)
			c.linger.Store(true)
			return n, errDataCut{smtpError(dataCutReply(what).WithQueueID(c.dataQueueID()))}
		}
		c.timedOut.Store(true)
		return n, c.timeout()
	}
	return n, err
}

// wokenToClose ends the session when it was evicted, or told of a
// shutdown (notice, or Shutdown begun when closing is set) while between
// transactions and outside a TLS handshake: it says the 421, once, and
// returns io.EOF. It returns nil when the session goes on.
func (c *clientConn) wokenToClose(closing bool) error {
	if c.evicted.Load() {
		return c.sayEvicted()
	}
	if (closing || c.notice.Load()) && !c.inTxn.Load() && !c.inHandshake() {
		return c.sayShuttingDown()
	}
	return nil
}

// Bounds of the read after a closing reply to a client still sending.
const (
	lingerTime = 2 * time.Second
	lingerMax  = 1 << 20
)

// errCut is a read cut short at the shutdown deadline.
var errCut = errors.New("shutdown deadline reached")

// cutRead ends a read at the shutdown deadline. Inside a message the
// session answers errCut with 451; between the commands of a transaction
// the 451 is written here (through TLS under it, sayClosing) and the
// session ends.
func (c *clientConn) cutRead() error {
	if c.inData.Load() {
		return errCut
	}
	if c.inTxn.Load() && c.cutSaid.CompareAndSwap(false, true) {
		c.sayClosing(filters.ReplyShutdownCut.WithQueueID(c.id))
	}
	return io.EOF
}

// SetReadDeadline is go-smtp's, when it drains a client before closing; the
// inactivity timeout no longer moves it.
func (c *clientConn) SetReadDeadline(t time.Time) error {
	c.fixedDeadline.Store(true)
	return c.Conn.SetReadDeadline(t)
}

// CloseWrite shuts the sending side, so the last reply is followed by the
// end of the stream rather than a reset.
func (c *clientConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Write serialises writes, so a shutdown notice never splits a reply.
func (c *clientConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.armed.Store(true)
	c.lastActive.Store(time.Now().UnixNano())
	return c.Conn.Write(b)
}

// sayShuttingDown writes the shutdown's 421, once, from the connection's
// goroutine (sayClosing: through TLS when the session runs under it), and
// ends the read.
func (c *clientConn) sayShuttingDown() error {
	if c.noticeSaid.CompareAndSwap(false, true) {
		c.sayClosing(filters.ReplyShuttingDown.WithQueueID(c.id))
	}
	return io.EOF
}

// closeIdle ends a session that is between transactions, at shutdown. As
// for an eviction, the session's own goroutine, woken from its read, writes
// the 421: under TLS only it can. A session that does not come back to read
// in time is closed without it, unless a transaction began meanwhile
// (Shutdown's deadline bounds those).
func (c *clientConn) closeIdle() {
	c.notice.Store(true)
	c.Conn.SetReadDeadline(time.Now())
	time.AfterFunc(evictGrace, func() {
		if !c.inTxn.Load() {
			c.Close()
		}
	})
}

func (c *clientConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.p.leave(c)
		if c.linger.Load() {
			c.CloseWrite()
			c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, io.LimitReader(c.Conn, lingerMax))
		}
		err = c.Conn.Close()
		if c.fc != nil {
			s := &c.stats
			c.fc.Log.Info("disconnect", "mail", s.mail.Load(), "rcpt", s.rcpt.Load(), "data", s.data.Load(),
				"relayed", s.relayed.Load(), "refused", s.refused.Load(), "duration", time.Since(c.start).Round(time.Millisecond).String())
		}
	})
	return err
}

// clientOf finds the clientConn under a go-smtp connection (which wraps it
// in TLS after STARTTLS).
func clientOf(c *smtp.Conn) *clientConn {
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	cc, _ := nc.(*clientConn)
	return cc
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// queueListener hands admitted connections to a go-smtp server.
type queueListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newQueueListener() *queueListener {
	return &queueListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *queueListener) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *queueListener) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *queueListener) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *queueListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
