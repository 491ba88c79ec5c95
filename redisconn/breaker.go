package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrDown is returned, wrapped, by a call a Breaker held back: Redis is
// known to be failing and no probe is due, so the call did not reach it.
var ErrDown = errors.New("not asked: Redis failing")

// DefaultProbeInterval is how often an open Breaker lets one call through
// to find out whether Redis answers again, when BreakerConfig.Interval is
// zero. A Redis that hangs then costs the gateway one QuickTimeout per
// interval and store, not one per call.
const DefaultProbeInterval = 5 * time.Second

// BreakerConfig describes a Breaker's store for its errors and log lines.
type BreakerConfig struct {
	// What names the store, "token store": errors start with it, and the
	// log lines read "<What> failed: <Failing>" and "<What> answers
	// again".
	What string
	// Where is the store's URL without its password (Redact).
	Where string
	// Failing says what an outage means for mail, logged at its start.
	Failing string
	// Back, if set, is added to the line at an outage's end.
	Back string
	// Interval is the time between probes; 0 means DefaultProbeInterval.
	Interval time.Duration
	// Now gives the probe times; nil means time.Now.
	Now func() time.Time
	// Log receives the outage lines; nil means slog.Default().
	Log *slog.Logger
}

// Breaker remembers that a store's Redis failed, so that callers which
// fail open (they go on without what Redis would tell them) do not each
// wait for a Redis that is down or hangs. While it is open, Allow fails
// at once with ErrDown, except for one call every Interval (the probe),
// whose outcome closes it or keeps it open. It logs one line when an
// outage starts and one when it ends, and a debug line per probe. A reply
// Redis sent (WRONGTYPE, NOSCRIPT, a script's error, OOM) shows Redis is
// there and never opens it; see Outage. Safe for concurrent use.
type Breaker struct {
	cfg BreakerConfig

	mu      sync.Mutex
	open    bool
	probing bool      // a probe is out: its outcome is logged
	since   time.Time // first failure of the outage
	next    time.Time // earliest probe
	lastErr error
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultProbeInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Breaker{cfg: cfg}
}

// Allow reports whether a call (op names it in messages) may go to Redis:
// nil, or an error wrapping ErrDown that says since when Redis fails and
// when it is asked next. Of the callers arriving while the breaker is
// open, the first past the probe time is let through and the next probe
// moved on. A caller let through must report the outcome to Done.
func (b *Breaker) Allow(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return nil
	}
	now := b.cfg.Now()
	if !now.Before(b.next) {
		b.next = now.Add(b.cfg.Interval)
		b.probing = true
		return nil
	}
	return fmt.Errorf("%s: %s: %w since %s (%v); next try within %v",
		b.cfg.What, op, ErrDown, b.since.UTC().Format(time.TimeOnly), b.lastErr, b.next.Sub(now).Round(time.Millisecond))
}

// Done records the outcome of a call that went to Redis. A call its caller
// gave up on (ctx done) says nothing about Redis, and an error that is no
// Outage is an answer.
func (b *Breaker) Done(ctx context.Context, op string, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	probe := b.probing
	b.probing = false
	if !Outage(err) {
		if b.open {
			b.open = false
			msg := b.cfg.What + " answers again"
			if b.cfg.Back != "" {
				msg += ": " + b.cfg.Back
			}
			b.cfg.Log.Info(msg, "store", b.cfg.Where, "down_for", b.cfg.Now().Sub(b.since).Round(time.Millisecond))
		}
		return
	}
	b.lastErr = err
	if b.open {
		if probe {
			b.cfg.Log.Debug(b.cfg.What+" probe: still failing", "store", b.cfg.Where, "op", op, "err", err, "next_probe_in", b.cfg.Interval)
		}
		return
	}
	b.open = true
	b.since = b.cfg.Now()
	b.next = b.since.Add(b.cfg.Interval)
	b.cfg.Log.Warn(b.cfg.What+" failed: "+b.cfg.Failing,
		"store", b.cfg.Where, "op", op, "err", err, "probe_every", b.cfg.Interval)
}

// Outage reports whether err says Redis is not serving: no connection, a
// timeout, a closed client, or one of the replies of a server that cannot
// serve now (LOADING, READONLY after a failover, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN, BUSY, max clients, a refused password). Other replies
// (WRONGTYPE, NOSCRIPT, a script's ERR, OOM, NOPERM) and redis.Nil come
// from a Redis that answers: they concern one command, not the store.
func Outage(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsMasterDownError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) ||
		redis.IsAuthError(err) || redis.HasErrorPrefix(err, "BUSY ")
}
