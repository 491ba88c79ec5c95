package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"mailguard/anvil"
	"mailguard/filters"
	"mailguard/relay"
)

// CalloutConfig configures address verification by SMTP probe: connect,
// EHLO, MAIL FROM:<>, RCPT TO:<address>, QUIT. Nothing is ever sent.
type CalloutConfig struct {
	// Hostname is the name given in EHLO.
	Hostname string
	// Timeout bounds connecting and each command of a probe (default 10s).
	Timeout time.Duration
	// Rate and Burst limit the probes per domain (Rate a second, bursts
	// of Burst, default 20; a Rate of 0 or less is no limit): a dictionary
	// attack on the gateway must not become one on the probed server.
	// Over the limit the address is not probed and the client is told to
	// try later.
	Rate  float64
	Burst int
	// PositiveTTL and NegativeTTL are how long an accepted and a refused
	// address are remembered (default 24h and 1h, as Postfix's
	// address_verify_positive_expire_time and
	// address_verify_negative_expire_time).
	PositiveTTL, NegativeTTL time.Duration
	// CacheSize bounds each of the two in-process caches, accepted and
	// refused addresses apart (default 10000 each), so that a dictionary
	// attack's refusals never push out the addresses known good.
	CacheSize int
	// Cache, when set, keeps both kinds of answers instead (expired by
	// their TTLs, not by a bound): a shared one (Redis) lets an instance
	// use the answer another got, so one address is probed once for all.
	Cache anvil.Values
}

// Callout probes addresses and remembers the answers. One Callout is
// shared by every connection and survives configuration reloads, so its
// caches stay warm.
type Callout struct {
	cfg CalloutConfig
	// good and bad keep accepted and refused addresses; both are
	// CalloutConfig.Cache when it is set.
	good, bad anvil.Values
	limit     *limiter
}

// Defaults of the callout, used by NewCallout for a zero field and by the
// configuration (verify.callout) as its defaults.
const (
	DefaultCalloutTimeout = 10 * time.Second
	// DefaultCalloutRate is the configuration's default; a zero Rate
	// given to NewCallout means no limit.
	DefaultCalloutRate  = 10
	DefaultCalloutBurst = 20
	DefaultPositiveTTL  = 24 * time.Hour
	DefaultNegativeTTL  = time.Hour
	DefaultCalloutPort  = 25
)

// NewCallout makes a Callout. Make one per process, not per chain, so its
// cache and rate limits outlive reloads.
func NewCallout(cfg CalloutConfig) *Callout {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCalloutTimeout
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultCalloutBurst
	}
	if cfg.PositiveTTL <= 0 {
		cfg.PositiveTTL = DefaultPositiveTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	c := &Callout{cfg: cfg, good: cfg.Cache, bad: cfg.Cache, limit: newLimiter(cfg.Rate, cfg.Burst)}
	if cfg.Cache == nil {
		c.good, c.bad = anvil.NewMemory(cfg.CacheSize), anvil.NewMemory(cfg.CacheSize)
	}
	return c
}

// answer is a remembered definite answer, as the cache stores it (JSON):
// accepted, or refused with the server's reply.
type answer struct {
	Accepted bool          `json:"accepted,omitempty"`
	Reply    filters.Reply `json:"reply,omitzero"`
	Server   string        `json:"server,omitempty"`
}

// cached returns the remembered answer for key. A cache that fails or
// holds something unreadable is a miss: the address is probed.
func (c *Callout) cached(ctx context.Context, log *slog.Logger, key string) (probeResult, bool) {
	v, ok, err := c.good.GetValue(ctx, "callout:"+key)
	if err == nil && !ok && c.bad != c.good {
		v, ok, err = c.bad.GetValue(ctx, "callout:"+key)
	}
	if err != nil {
		log.Debug("callout cache failed; probing", "err", err)
		return probeResult{}, false
	}
	var a answer
	if !ok || json.Unmarshal(v, &a) != nil {
		return probeResult{}, false
	}
	if a.Accepted {
		return probeResult{status: probeAccepted, cached: true}, true
	}
	if a.Reply.Code/100 != 5 {
		return probeResult{}, false
	}
	return probeResult{status: probeRefused, reply: a.Reply, server: a.Server, cached: true}, true
}

// remember caches a definite answer for its TTL; a cache that fails only
// costs a probe later.
func (c *Callout) remember(ctx context.Context, log *slog.Logger, key string, res probeResult) {
	a, ttl, cache := answer{Accepted: true}, c.cfg.PositiveTTL, c.good
	if res.status == probeRefused {
		a, ttl, cache = answer{Reply: res.reply, Server: res.server}, c.cfg.NegativeTTL, c.bad
	}
	v, _ := json.Marshal(a)
	if err := cache.SetValue(ctx, "callout:"+key, v, ttl); err != nil {
		log.Debug("callout answer not cached", "err", err)
	}
}

// probeStatus is what a probe found out.
type probeStatus uint8

const (
	// probeUnknown: no answer worth keeping (unreachable, 4xx, rate
	// limited): the client is told to try later.
	probeUnknown probeStatus = iota
	probeAccepted
	probeRefused
)

// probeResult is the outcome of verifying one address.
type probeResult struct {
	status probeStatus
	// reply is the server's reply to RCPT TO when it refused (5xx), or
	// its last 4xx; zero when it could not be reached.
	reply filters.Reply
	// server is the host:port that gave the answer.
	server string
	// why explains probeUnknown for the log.
	why    string
	cached bool
}

// verify answers whether rcpt is deliverable at the first of servers that
// gives a definite answer (2xx or 5xx to RCPT TO). key names the answer in
// the caches; domain is the rate-limited unit. servers is called only when
// a probe is needed, so a cached answer costs no DNS either.
func (c *Callout) verify(ctx context.Context, log *slog.Logger, key, domain, rcpt string, servers func(context.Context) ([]string, error)) probeResult {
	if res, ok := c.cached(ctx, log, key); ok {
		return res
	}
	if !c.limit.allow(domain) {
		return probeResult{why: fmt.Sprintf("callout rate limit for %s reached (%g a second)", domain, c.cfg.Rate)}
	}
	addrs, err := servers(ctx)
	if err != nil {
		return probeResult{why: err.Error()}
	}
	res := probeResult{why: "no server to probe"}
	for _, addr := range addrs {
		res = c.probe(ctx, addr, rcpt)
		switch res.status {
		case probeAccepted, probeRefused:
			c.remember(ctx, log, key, res)
			return res
		}
		log.Info("callout inconclusive", "server", addr, "rcpt", rcpt, "why", res.why)
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

// probe asks one server about rcpt.
func (c *Callout) probe(ctx context.Context, addr, rcpt string) probeResult {
	res := probeResult{server: addr}
	cl, err := relay.Dial(ctx, relay.Config{Addr: addr, Hostname: c.cfg.Hostname, Timeout: c.cfg.Timeout})
	if err != nil {
		res.why = err.Error()
		return res
	}
	defer cl.Close()
	r, err := cl.Mail(ctx, "", relay.MailOptions{})
	switch {
	case err != nil:
		res.why = err.Error()
		return res
	case r.Code/100 != 2:
		// A server that refuses the null sender cannot be asked about
		// anyone; that says nothing against the address, so it is not
		// a permanent answer.
		res.reply, res.why = r, "MAIL FROM:<> refused: "+r.String()
		return res
	}
	r, err = cl.Rcpt(ctx, rcpt)
	switch {
	case err != nil:
		res.why = err.Error()
	case r.Code/100 == 2:
		res.status = probeAccepted
	case r.Permanent():
		res.status, res.reply = probeRefused, r
	default:
		res.reply, res.why = r, "RCPT TO answered "+r.String()
	}
	return res
}
