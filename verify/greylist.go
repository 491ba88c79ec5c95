package verify

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"mailguard/anvil"
	"mailguard/filters"
)

// GreylistConfig configures greylisting (RFC 6647): the first delivery
// attempt of an unknown triplet (client network, sender, recipient) gets
// 451 4.7.1; a retry after Delay and within Window passes, and the triplet
// then passes at once for Memory after its last pass.
type GreylistConfig struct {
	Store anvil.Store
	// Delay (default 5m), Window (default 36h), Memory (default 30 days).
	Delay, Window, Memory time.Duration
	// IPv4Bits and IPv6Bits are the client network's prefix lengths
	// (defaults 24 and 64).
	IPv4Bits, IPv6Bits int
	// OnlyNoRDNS greylists only clients without a forward-confirmed
	// reverse name; OnlyScoreAbove (when more than 0) only transactions
	// that scored more than it so far. Both set: either condition.
	OnlyNoRDNS     bool
	OnlyScoreAbove float64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults of greylisting, postgrey's but for the delay (RFC 6647 section
// 5 recommends 1 to 5 minutes; postgrey's 5 minutes).
const (
	DefaultGreylistDelay  = 5 * time.Minute
	DefaultGreylistWindow = 36 * time.Hour
	DefaultGreylistMemory = 30 * 24 * time.Hour
)

// Greylist is the greylisting filter. Relay, authenticated and
// allow-listed clients and senders are exempt, and so are clients a DNS
// allow list (a dnsbl zone with a negative weight) scored: a DNSWL. When
// its store fails (a shared Redis that is down) mail passes, as postgrey
// and policyd do on a database error: greylisting delays mail, it must
// not stop it.
type Greylist struct{ cfg GreylistConfig }

// NewGreylist returns the filter.
func NewGreylist(cfg GreylistConfig) *Greylist {
	if cfg.Store == nil {
		cfg.Store = anvil.NewMemory(0)
	}
	if cfg.Delay <= 0 {
		cfg.Delay = DefaultGreylistDelay
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultGreylistWindow
	}
	if cfg.Memory <= 0 {
		cfg.Memory = DefaultGreylistMemory
	}
	if cfg.IPv4Bits <= 0 {
		cfg.IPv4Bits = 24
	}
	if cfg.IPv6Bits <= 0 {
		cfg.IPv6Bits = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Greylist{cfg: cfg}
}

// Name implements filters.Filter.
func (*Greylist) Name() string { return "greylist" }

// CheckRcpt greylists the triplet of the recipient.
func (g *Greylist) CheckRcpt(ctx context.Context, t *filters.Transaction, rcpt string) filters.Verdict {
	if g.exempt(t) {
		return filters.Pass()
	}
	key := g.triplet(t, rcpt)
	now := g.cfg.Now()
	if _, ok, err := g.cfg.Store.Get(ctx, "greypass:"+key); err != nil {
		// A greylist that cannot remember must not delay mail for ever.
		t.Log.Warn("greylist store failed; passing", "err", err)
		return filters.Pass()
	} else if ok {
		g.cfg.Store.Set(ctx, "greypass:"+key, now, g.cfg.Memory)
		return filters.Pass()
	}
	first, ok, err := g.cfg.Store.Get(ctx, "grey:"+key)
	if err != nil {
		t.Log.Warn("greylist store failed; passing", "err", err)
		return filters.Pass()
	}
	if !ok {
		if err := g.cfg.Store.Set(ctx, "grey:"+key, now, g.cfg.Window); err != nil {
			// Refusing a triplet that is not remembered would refuse
			// its every retry.
			t.Log.Warn("greylist store failed; passing", "err", err)
			return filters.Pass()
		}
		v := filters.Refuse(filters.ReplyGreylisted, "new triplet "+key)
		v.Test = "greylist"
		return v
	}
	if now.Sub(first) < g.cfg.Delay {
		v := filters.Refuse(filters.ReplyGreylisted, "retry too early for triplet "+key+"; wait "+(g.cfg.Delay-now.Sub(first)).Round(time.Second).String())
		v.Test = "greylist"
		return v
	}
	g.cfg.Store.Set(ctx, "greypass:"+key, now, g.cfg.Memory)
	t.Log.Info("greylist passed", "triplet", key, "delayed", now.Sub(first).Round(time.Second).String())
	return filters.Pass()
}

func (g *Greylist) exempt(t *filters.Transaction) bool {
	c := t.Conn
	if c.MayRelay() || t.AllowListed() || !c.ClientIP.IsValid() {
		return true
	}
	var total float64
	for _, s := range t.Scores() {
		if s.Points < 0 && strings.HasPrefix(s.Test, "RCVD_IN_") {
			return true // DNSWL
		}
		total += s.Points
	}
	if !g.cfg.OnlyNoRDNS && g.cfg.OnlyScoreAbove <= 0 {
		return false
	}
	if g.cfg.OnlyNoRDNS && c.ClientName == "" {
		return false
	}
	if g.cfg.OnlyScoreAbove > 0 && total > g.cfg.OnlyScoreAbove {
		return false
	}
	return true
}

// triplet is the client network, sender and recipient, lower-cased.
func (g *Greylist) triplet(t *filters.Transaction, rcpt string) string {
	ip := t.Conn.ClientIP.Unmap()
	bits := g.cfg.IPv6Bits
	if ip.Is4() {
		bits = g.cfg.IPv4Bits
	}
	n, err := ip.Prefix(bits)
	if err != nil {
		n = netip.PrefixFrom(ip, ip.BitLen())
	}
	return n.String() + "/" + strings.ToLower(t.MailFrom) + "/" + strings.ToLower(rcpt)
}
