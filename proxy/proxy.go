// Package proxy is the gateway's SMTP front end: a before-queue proxy in
// front of the backend MTA.
//
// A go-smtp server speaks to the client; each SMTP event becomes a call on
// the filters.Chain, and what the chain allows is passed to the backend as
// it happens: the backend connection opens at MAIL FROM, each recipient is
// offered to the backend right after the chain accepted it (so the backend's
// own refusal reaches the client at RCPT TO), and the message is spooled,
// judged at the end of DATA and streamed to the backend. The client's 250 is
// sent only after the backend's 250 (or a durable quarantine write).
//
// Before go-smtp sees a connection, the proxy admits it (admission.go,
// conn.go): connection limits in total and per client network, connection
// rate, the pregreet test, the reverse name and the chain's Connect checks.
// Error limits and the tarpit sit on go-smtp's reply hook; message and
// recipient rates are checked at MAIL and RCPT.
//
// Only filters.Reply values reach the client; any other error becomes
// 451 4.3.0 with the queue id, its detail in the log. go-smtp's own replies
// come from filters/reply.go too, through its reply table (reply.go).
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/filters"
	"mailguard/relay"
	"mailguard/resolver"
)

// Config configures a Proxy. Zero values take the defaults documented on
// each field.
type Config struct {
	// Hostname is the name in the banner and in Received: (default
	// "localhost").
	Hostname string
	// Backend is the MTA's host:port accepted mail is relayed to.
	Backend string
	// Chain judges every transaction; SetChain swaps it.
	Chain *filters.Chain
	// Holder keeps quarantined messages; without one a Quarantine outcome
	// is answered 451 4.3.0, because nothing may be accepted that is not
	// stored.
	Holder filters.Holder
	// Resolver finds the client's reverse name at connect; nil skips it.
	Resolver resolver.Resolver
	// DNSTimeout bounds each reverse-name lookup (default 2s).
	DNSTimeout time.Duration
	// SpoolDir holds messages too big for memory while they are judged
	// (default the system's temporary directory).
	SpoolDir string
	// MaxMessageBytes is the SIZE limit (default 26214400); larger
	// messages get 552 5.3.4.
	MaxMessageBytes int64
	// MaxRecipients per transaction (default 100); more get 452 4.5.3.
	MaxRecipients int
	// MaxConnections in total (default 500) and per client IP (default
	// 20); a client over either gets 421 4.7.0 and is disconnected. When
	// the total is reached, the session idle longest is closed to make
	// room, or the newcomer waits for a slot (Abuse, admission.go).
	MaxConnections      int
	MaxConnectionsPerIP int
	// MaxLineLength bounds a line, in octets without its CRLF (default
	// 2000: RFC 5321's 1000-octet text line, doubled as go-smtp does). A
	// longer command line ends the session with 500 (the reply is written,
	// and the client's input drained briefly before closing); a longer
	// message line is read on to the end of the data, and the message gets
	// 550 5.6.0.
	MaxLineLength int
	// CommandTimeout is how long a client may stay silent between
	// commands (default 5 minutes, RFC 5321 section 4.5.3.2.7).
	CommandTimeout time.Duration
	// DataBlockTimeout is how long a client may stay silent in the middle
	// of a message (default 3 minutes, RFC 5321 section 4.5.3.2.5).
	DataBlockTimeout time.Duration
	// DataTimeout bounds the work after the final dot: the message checks
	// and the relay to the backend (default 10 minutes, the client's wait
	// for the reply to its final dot, RFC 5321 section 4.5.3.2.6).
	DataTimeout time.Duration
	// BackendTimeout bounds connecting to the backend and each of its
	// replies (default 2 minutes).
	BackendTimeout time.Duration
	// BackendForward says how the backend learns who the client was
	// (default relay.ForwardXForward: XFORWARD when the backend offers it).
	BackendForward relay.ForwardMode
	// TLS enables STARTTLS; nil is off.
	TLS *tls.Config
	// Users enables AUTH PLAIN and LOGIN under TLS; nil is off.
	Users *Users
	// SpoolMemory is how much of a message is held in memory before it
	// spills to a file in SpoolDir (default 256 KiB).
	SpoolMemory int
	// Log receives one line per decision (default slog.Default()).
	Log *slog.Logger
	// Abuse holds the admission, pregreet, error and rate limits.
	Abuse Abuse
}

// Defaults of the limits.
const (
	DefaultMaxMessageBytes     = 26214400
	DefaultMaxRecipients       = 100
	DefaultMaxConnections      = 500
	DefaultMaxConnectionsPerIP = 20
	DefaultMaxLineLength       = 2000
	DefaultCommandTimeout      = 5 * time.Minute
	DefaultDataBlockTimeout    = 3 * time.Minute
	DefaultDataTimeout         = 10 * time.Minute
	DefaultBackendTimeout      = 2 * time.Minute
	defaultSpoolMemory         = 256 << 10
	// capsMaxAge is how long the backend's EHLO keywords are trusted.
	capsMaxAge = 10 * time.Minute
)

// Proxy is the SMTP front end. Serve runs it; Shutdown stops it.
type Proxy struct {
	log   *slog.Logger
	chain atomic.Pointer[filters.Chain]
	users atomic.Pointer[Users]
	// gen is the configuration new connections are accepted under.
	gen atomic.Pointer[generation]

	caps capsCache
	pool backendPool

	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	gens  []*generation // every generation still serving connections
	conns map[*clientConn]struct{}
	perIP map[netip.Addr]int
	adm   admission
	// closing is set by Shutdown under mu, and read without it on
	// every read of every session.
	closing  atomic.Bool
	serving  bool
	drained  chan struct{} // closed when conns empties after closing
	listener net.Listener
	serveWG  sync.WaitGroup
}

// A generation is one configuration with its go-smtp servers. A reload
// starts a new generation for the connections accepted after it; those
// already open finish under the one they started with (their limits, their
// TLS certificate), and only the chain and the AUTH users are swapped under
// them, for their next transaction.
//
// Two go-smtp servers differ only in offering SMTPUTF8: each accepted
// connection goes to the one matching what the backend offered last time it
// was asked, so the choice never races with a running server.
type generation struct {
	cfg     Config
	servers [2]*smtp.Server
	queues  [2]*queueListener
	// conns counts its open connections (under Proxy.mu).
	conns int
}

// New checks the configuration and prepares a Proxy.
func New(cfg Config) (*Proxy, error) {
	cfg, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	p := &Proxy{log: cfg.Log, conns: map[*clientConn]struct{}{}, perIP: map[netip.Addr]int{}, adm: newAdmission(), drained: make(chan struct{})}
	cfg.Abuse.prepare(p)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.chain.Store(cfg.Chain)
	p.users.Store(cfg.Users)
	g := p.newGeneration(cfg)
	p.gen.Store(g)
	p.gens = []*generation{g}
	return p, nil
}

// prepare checks a configuration and fills in its defaults.
func prepare(cfg Config) (Config, error) {
	if cfg.Chain == nil {
		return cfg, errors.New("proxy: no filter chain")
	}
	if cfg.Backend == "" {
		return cfg, errors.New("proxy: no backend address")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	setDefault(&cfg.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&cfg.MaxRecipients, DefaultMaxRecipients)
	setDefault(&cfg.MaxConnections, DefaultMaxConnections)
	setDefault(&cfg.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(&cfg.MaxLineLength, DefaultMaxLineLength)
	setDefault(&cfg.CommandTimeout, DefaultCommandTimeout)
	setDefault(&cfg.DataBlockTimeout, DefaultDataBlockTimeout)
	setDefault(&cfg.DataTimeout, DefaultDataTimeout)
	setDefault(&cfg.BackendTimeout, DefaultBackendTimeout)
	if cfg.BackendForward == "" {
		cfg.BackendForward = relay.ForwardXForward
	}
	setDefault(&cfg.DNSTimeout, resolver.DefaultTimeout)
	setDefault(&cfg.SpoolMemory, defaultSpoolMemory)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
			return cfg, fmt.Errorf("proxy: spool directory: %w", err)
		}
		cfg.SpoolDir = filepath.Clean(cfg.SpoolDir)
	}
	return cfg, nil
}

func (p *Proxy) newGeneration(cfg Config) *generation {
	g := &generation{cfg: cfg}
	for i := range g.servers {
		g.queues[i] = newQueueListener()
		g.servers[i] = p.newServer(cfg, i == 1)
	}
	return g
}

// start runs the generation's servers; p.mu is held.
func (p *Proxy) start(g *generation) {
	for i := range g.servers {
		p.serveWG.Add(1)
		go func() {
			defer p.serveWG.Done()
			g.servers[i].Serve(g.queues[i])
		}()
	}
}

// Reconfigure applies a new configuration to the connections accepted from
// now on, and its chain and users to every new transaction. The listener
// stays: a new listen address needs a restart.
func (p *Proxy) Reconfigure(cfg Config) error {
	cfg, err := prepare(cfg)
	if err != nil {
		return err
	}
	cfg.Abuse.prepare(p)
	g := p.newGeneration(cfg)
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		return errors.New("proxy: shutting down")
	}
	old := p.gen.Swap(g)
	p.gens = append(p.gens, g)
	if p.serving {
		p.start(g)
	}
	p.mu.Unlock()
	// The old generation takes no new connections; its open ones carry on.
	for _, q := range old.queues {
		q.Close()
	}
	if old.cfg.Backend != cfg.Backend {
		p.pool.flush()
		p.caps.forget()
	}
	p.chain.Store(cfg.Chain)
	p.users.Store(cfg.Users)
	p.prune()
	return nil
}

// prune closes the servers of retired generations without connections.
func (p *Proxy) prune() {
	p.mu.Lock()
	if p.closing.Load() {
		// Shutdown closes every generation itself.
		p.mu.Unlock()
		return
	}
	cur := p.gen.Load()
	var done []*generation
	kept := p.gens[:0]
	for _, g := range p.gens {
		if g != cur && g.conns == 0 {
			done = append(done, g)
		} else {
			kept = append(kept, g)
		}
	}
	p.gens = kept
	p.mu.Unlock()
	if len(done) == 0 {
		return
	}
	// Not on the caller's goroutine: prune runs from a session's Close,
	// itself inside go-smtp's Conn.Close, and Server.Close closes every
	// connection it still lists, that one too, under the same lock.
	go func() {
		for _, g := range done {
			for i := range g.servers {
				g.queues[i].Close()
				g.servers[i].Close()
			}
		}
	}()
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

func (p *Proxy) newServer(cfg Config, utf8 bool) *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(p.newSession))
	s.Domain = cfg.Hostname
	// go-smtp's own SIZE check answers MAIL FROM SIZE= over the limit, and
	// it stops the DATA reader at the limit; the proxy turns the latter
	// into its own 552 with the queue id.
	s.MaxMessageBytes = cfg.MaxMessageBytes
	// Recipients are counted here, so the 452 carries the queue id.
	s.MaxRecipients = 0
	s.MaxLineLength = cfg.MaxLineLength
	// Read deadlines are set by clientConn on every read (an inactivity
	// timeout, which is what RFC 5321 asks for); go-smtp's ReadTimeout
	// would bound a whole message instead.
	s.ReadTimeout = 0
	s.WriteTimeout = cfg.CommandTimeout
	s.TLSConfig = cfg.TLS
	// AUTH is offered only under TLS (AuthMechanisms); letting go-smtp ask
	// on every EHLO is also how a session learns it was EHLO, not HELO.
	s.AllowInsecureAuth = true
	s.EnableSMTPUTF8 = utf8
	s.ErrorLog = logAdapter{p.log}
	// Errors are counted, tarpitted and limited by beforeReply.
	s.MaxProtocolErrors = -1
	s.BeforeReply = p.beforeReply
	s.Replies = protocolReplies
	return s
}

// SetChain swaps the chain for transactions that start from now on;
// transactions in progress finish with the chain they started with.
func (p *Proxy) SetChain(c *filters.Chain) {
	if c != nil {
		p.chain.Store(c)
	}
}

// SetUsers swaps the AUTH users for authentications from now on; nil turns
// AUTH off.
func (p *Proxy) SetUsers(u *Users) { p.users.Store(u) }

// Serving reports whether Serve is accepting connections (and Shutdown has
// not begun).
func (p *Proxy) Serving() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.serving && !p.closing.Load()
}

// Serve accepts connections on l until Shutdown. It returns nil after
// Shutdown, or the listener's error.
func (p *Proxy) Serve(l net.Listener) error {
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		return errors.New("proxy: shut down")
	}
	p.listener = l
	p.serving = true
	p.start(p.gen.Load())
	p.mu.Unlock()
	// Connections wait in the listen queue meanwhile, so the first of them
	// already get the backend's SMTPUTF8; a silent backend delays them 5s
	// at most.
	p.caps.refresh(p, 5*time.Second)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if p.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if isTemporaryAccept(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				p.log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		delay = 0
		go p.admit(nc)
	}
}

// Shutdown stops accepting, closes idle connections, lets transactions in
// progress finish until ctx is done, then closes what is left. It returns
// ctx's error when it had to cut transactions short.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closing.Load() {
		p.mu.Unlock()
		return nil
	}
	p.closing.Store(true)
	l := p.listener
	idle := make([]*clientConn, 0, len(p.conns))
	for c := range p.conns {
		idle = append(idle, c)
	}
	if len(p.conns) == 0 {
		close(p.drained)
	}
	gens := p.gens
	p.mu.Unlock()
	if l != nil {
		l.Close()
	}
	for _, g := range gens {
		for _, q := range g.queues {
			q.Close()
		}
	}
	for _, c := range idle {
		if c.ready.Load() && !c.inTxn.Load() {
			c.closeIdle()
		}
	}
	var err error
	select {
	case <-p.drained:
	case <-ctx.Done():
		err = ctx.Err()
		p.cut()
	}
	// go-smtp's Close waits for each session's lock; a session that
	// ignores its cancelled context must not keep the process alive.
	closed := make(chan struct{})
	go func() {
		for _, g := range gens {
			for _, s := range g.servers {
				s.Close()
			}
		}
		p.pool.close()
		p.cancel()
		p.serveWG.Wait()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(cutGrace):
		p.log.Warn("shutdown: sessions still busy after the deadline; leaving them")
	}
	return err
}

// cutGrace is how long transactions cut at the shutdown deadline have to
// write their 451 before the connections are closed under them.
const cutGrace = 2 * time.Second

// cut ends the transactions still in progress at the shutdown deadline:
// work for them (checks, the backend) is cancelled and a client still
// sending its message stops being read, so each answers 451 4.3.2 (or
// 451 4.4.1 from the backend's side); then the connections close.
func (p *Proxy) cut() {
	p.log.Warn("shutdown deadline reached; transactions in progress get 451")
	p.mu.Lock()
	conns := make([]*clientConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.cut.Store(true)
		// Wake a read blocked on the client.
		c.Conn.SetReadDeadline(time.Now())
	}
	p.cancel()
	select {
	case <-p.drained:
	case <-time.After(cutGrace):
		for _, c := range conns {
			c.Conn.Close()
		}
	}
}

// backend is the current configuration's backend address.
func (p *Proxy) backend() string { return p.gen.Load().cfg.Backend }

// isClosing reports whether Shutdown has begun.
func (p *Proxy) isClosing() bool { return p.closing.Load() }

func isTemporaryAccept(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

// logAdapter sends go-smtp's own complaints (a connection that broke, a
// handler that panicked) to the structured log.
type logAdapter struct{ log *slog.Logger }

func (a logAdapter) Printf(format string, v ...any) {
	a.log.Info("smtp server: " + fmt.Sprintf(format, v...))
}

func (a logAdapter) Println(v ...any) { a.log.Info("smtp server: " + fmt.Sprint(v...)) }
