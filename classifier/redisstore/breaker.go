package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrDown is returned, wrapped, by a fail-fast store's reads while Redis is
// known to be failing and no probe is due: the call did not reach Redis.
var ErrDown = errors.New("not asked: Redis failing")

// DefaultProbeInterval is how often a fail-fast store whose Redis failed
// lets one read through to find out whether it answers again, when
// Config.ProbeInterval is zero. A Redis that hangs then costs the gateway
// one redisconn.QuickTimeout per interval, not one per message.
const DefaultProbeInterval = 5 * time.Second

// breaker remembers that Redis failed. While it is open, reads fail at
// once with ErrDown, except one every interval (the probe), whose answer
// closes it or keeps it open.
type breaker struct {
	where    string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	open    bool
	since   time.Time // first failure of the outage
	next    time.Time // earliest probe
	lastErr error
}

// allow reports whether a read may go to Redis, or returns the error that
// says why not. Of the callers arriving while the breaker is open, the
// first past the probe time is let through and the next probe moved on.
func (b *breaker) allow(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return nil
	}
	now := b.now()
	if !now.Before(b.next) {
		b.next = now.Add(b.interval)
		return nil
	}
	return fmt.Errorf("token store: %s: %w since %s (%v); next try within %v",
		op, ErrDown, b.since.UTC().Format(time.TimeOnly), b.lastErr, b.next.Sub(now).Round(time.Millisecond))
}

// done records the outcome of a call that went to Redis. A call its caller
// gave up on (ctx done) says nothing about Redis.
func (b *breaker) done(ctx context.Context, op string, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		if b.open {
			b.open = false
			b.log.Info("token store answers again: classifying with the Bayes score", "store", b.where, "down_for", b.now().Sub(b.since).Round(time.Millisecond))
		}
		return
	}
	b.lastErr = err
	if !b.open {
		b.open = true
		b.since = b.now()
		b.next = b.since.Add(b.interval)
		b.log.Warn("token store failed: classifying without the Bayes score until it answers again",
			"store", b.where, "op", op, "err", err, "probe_every", b.interval)
	}
}
