package filters

import (
	"log/slog"
	"net/netip"
	"sync"
)

// ClientConn is the client's connection as the chain sees it: who the
// client is and what it said before MAIL FROM. The front end fills the
// identity fields; checks may keep per-connection state with Set and Get,
// for example DNS lookups started at connect and awaited at RCPT TO.
type ClientConn struct {
	ClientIP   netip.Addr
	ClientPort uint16
	// ClientName is the client's forward-confirmed reverse name, or "" when
	// it has none.
	ClientName string
	// Helo is the name given in HELO/EHLO.
	Helo string
	// ESMTP is true after EHLO (rather than HELO).
	ESMTP bool
	TLS   bool
	// AuthUser is the SMTP AUTH identity, "" when not authenticated.
	AuthUser string
	// RelayByMTA is true when the MTA in front (milter mode) has already
	// decided which recipients it relays, as Postfix's
	// smtpd_relay_restrictions do: relay control then refuses only the
	// relay tricks.
	RelayByMTA bool
	// Log carries the client address; the transaction adds the queue id.
	Log *slog.Logger

	mu        sync.Mutex
	relayNet  bool
	allowed   bool
	state     map[string]any
	connScore []Score
}

// SetRelayClient marks the client as one of relay_networks.
func (c *ClientConn) SetRelayClient(v bool) { c.mu.Lock(); c.relayNet = v; c.mu.Unlock() }

// MayRelay reports whether the client may send to any domain: it is in
// relay_networks or it authenticated.
func (c *ClientConn) MayRelay() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.relayNet || c.AuthUser != ""
}

// SetAllowListed marks the client as known good (allow.networks).
func (c *ClientConn) SetAllowListed(v bool) { c.mu.Lock(); c.allowed = v; c.mu.Unlock() }

// AllowListed reports whether the client is known good.
func (c *ClientConn) AllowListed() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.allowed }

// Set stores per-connection state under key. Keys are namespaced by the
// check that owns them ("dnsbl:zen.spamhaus.org").
func (c *ClientConn) Set(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		c.state = make(map[string]any)
	}
	c.state[key] = v
}

// Get returns the state stored under key.
func (c *ClientConn) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.state[key]
	return v, ok
}

// GetOrSet returns the state under key, storing the result of mk first when
// there is none; mk runs under the connection's lock and must be quick (start
// a goroutine, do not wait for it).
func (c *ClientConn) GetOrSet(key string, mk func() any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.state[key]; ok {
		return v
	}
	if c.state == nil {
		c.state = make(map[string]any)
	}
	v := mk()
	c.state[key] = v
	return v
}

// Transaction is one message: MAIL FROM to the end of DATA.
type Transaction struct {
	Conn    *ClientConn
	QueueID string
	// MailFrom is the reverse path without angle brackets; "" is the null
	// sender.
	MailFrom string
	// Size is the SIZE= parameter of MAIL FROM, 0 when absent.
	Size     int64
	SMTPUTF8 bool
	// Body is the BODY= parameter ("7BIT", "8BITMIME", ...).
	Body string
	// Rcpts are the accepted recipients, in order.
	Rcpts []string
	// Log carries the client address and the queue id.
	Log *slog.Logger

	mu        sync.Mutex
	scores    []Score
	allowed   bool
	addHeader []Field
	strip     []func(name, value string) bool
	values    map[string]any
}

// NewTransaction starts a transaction on c.
func NewTransaction(c *ClientConn, queueID string) *Transaction {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	return &Transaction{Conn: c, QueueID: queueID, Log: log.With("queue_id", queueID)}
}

// AddScore records points under a test name.
func (t *Transaction) AddScore(s ...Score) {
	t.mu.Lock()
	t.scores = append(t.scores, s...)
	t.mu.Unlock()
}

// Scores returns the tests that fired so far, in order.
func (t *Transaction) Scores() []Score {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Score(nil), t.scores...)
}

// Total is the sum of the scores so far.
func (t *Transaction) Total() float64 {
	var s float64
	for _, sc := range t.Scores() {
		s += sc.Points
	}
	return s
}

// SetAllowListed marks the message as from a known good sender
// (allow.senders): score-based actions do not apply to it.
func (t *Transaction) SetAllowListed(v bool) { t.mu.Lock(); t.allowed = v; t.mu.Unlock() }

// AllowListed reports whether the sender or the client is known good.
func (t *Transaction) AllowListed() bool {
	t.mu.Lock()
	a := t.allowed
	t.mu.Unlock()
	return a || t.Conn.AllowListed()
}

// AddHeader asks the front end to add a header field at the top of the
// relayed message (after Received:).
func (t *Transaction) AddHeader(name, value string) {
	t.mu.Lock()
	t.addHeader = append(t.addHeader, Field{Name: name, Value: value})
	t.mu.Unlock()
}

// AddedHeaders returns the fields to add, in order.
func (t *Transaction) AddedHeaders() []Field {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Field(nil), t.addHeader...)
}

// StripHeaders asks the front end to remove the arriving header fields for
// which match returns true (name is as received; value is unfolded). The
// rule must hold whatever a field's size, and a front end holds only so
// much of a field (64 KiB): for a longer field, value is its start, so
// match must decide from the name and the start of the value.
func (t *Transaction) StripHeaders(match func(name, value string) bool) {
	t.mu.Lock()
	t.strip = append(t.strip, match)
	t.mu.Unlock()
}

// Stripped reports whether an arriving field is to be removed.
func (t *Transaction) Stripped(name, value string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.strip {
		if m(name, value) {
			return true
		}
	}
	return false
}

// Set stores per-transaction state under key (namespaced by the check).
func (t *Transaction) Set(key string, v any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.values == nil {
		t.values = make(map[string]any)
	}
	t.values[key] = v
}

// Get returns per-transaction state stored under key.
func (t *Transaction) Get(key string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.values[key]
	return v, ok
}

func (c *ClientConn) addConnScores(s []Score) {
	if len(s) == 0 {
		return
	}
	c.mu.Lock()
	c.connScore = append(c.connScore, s...)
	c.mu.Unlock()
}

func (c *ClientConn) connScores() []Score {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Score(nil), c.connScore...)
}
