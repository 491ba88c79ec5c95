// Package redisanvil is anvil's store on Redis: the counters
// and memories of the rate limits, the pregreet test and greylisting, and
// the recipient callout's answers, shared by every gateway that names the
// same `store: redis://...`.
//
// Keys, every one under Prefix (one Cluster hash tag) and every one with
// an expiry, so the set stays bounded by itself:
//
//	n:KEY  integer: a count (anvil.Store's Incr); it expires when its
//	       window ends, a window starting at the key's first event
//	t:KEY  integer: a time in Unix nanoseconds (Get, Set); it expires
//	       after the ttl it was set with
//	v:KEY  bytes (GetValue, SetValue); it expires after its ttl
//
// Each call is one round trip: Incr is a Lua script (INCRBY, then PEXPIRE
// when the key has no expiry yet), the others one GET or SET ... PX. No
// path uses KEYS or SCAN.
//
// Redis failing (down, refusing, or hanging past the client's timeouts,
// redisconn.QuickTimeout by default, without retry) is returned to the
// caller, who decides (rate limits and pregreet fail open,
// greylisting passes the mail). A redisconn.Breaker then holds every call
// back with redisconn.ErrDown, except one every ProbeInterval, so a Redis
// that hangs costs a session nothing and the gateway one timeout per
// interval. The store logs the start and the end of each outage once, not
// each failed call, and counts every failed or held-back call in
// mailguard_anvil_errors_total. An error reply (WRONGTYPE, OOM) is no
// outage: it is returned and logged, and the breaker stays closed.
package redisanvil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"mailguard/anvil"
	"mailguard/metrics"
	"mailguard/redisconn"
)

// Prefix starts every key of the store.
const Prefix = redisconn.Prefix + "anvil:"

// Config opens a store.
type Config struct {
	// URL is the store value, redis://host:port/db (see redisconn).
	URL string
	// Client, when set, is used instead of opening URL (and not closed).
	Client redis.UniversalClient
	// Prefix starts every key; "" means Prefix.
	Prefix string
	// Log receives the outage lines (default slog.Default()).
	Log *slog.Logger
	// ProbeInterval is how often a store whose Redis failed lets a call
	// through; 0 means redisconn.DefaultProbeInterval.
	ProbeInterval time.Duration
	// Now gives the probe times; nil means time.Now.
	Now func() time.Time
}

// Store is an anvil.Store and anvil.Values in Redis, safe for concurrent
// use by several goroutines and several processes.
type Store struct {
	where  string
	rdb    redis.UniversalClient
	own    bool
	prefix string
	log    *slog.Logger
	brk    *redisconn.Breaker
	// refusing is set from an error reply to the next success.
	refusing atomic.Bool
}

var (
	_ anvil.Store  = (*Store)(nil)
	_ anvil.Values = (*Store)(nil)
)

// incrScript adds ARGV[1] to KEYS[1] and starts its window of ARGV[2]
// milliseconds when the key is new (no expiry yet); later events do not
// move the window's end, as anvil.Memory.
var incrScript = redis.NewScript(`
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
`)

// Open returns a store; it does not connect (go-redis dials on first use
// and reconnects by itself).
func Open(cfg Config) (*Store, error) {
	s := &Store{where: redisconn.Redact(cfg.URL), rdb: cfg.Client, prefix: cfg.Prefix, log: cfg.Log}
	if s.rdb == nil {
		// Every call sits on a connection's path and fails open: short
		// timeouts, no retry.
		c, err := redisconn.OpenQuick(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("anvil store: %w", err)
		}
		s.rdb, s.own = c, true
	}
	if s.prefix == "" {
		s.prefix = Prefix
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.brk = redisconn.NewBreaker(redisconn.BreakerConfig{
		What: "anvil store", Where: s.where,
		Failing:  "rate limits and the pregreet memory do not apply, greylisting passes mail, callout answers are not shared until it answers again",
		Interval: cfg.ProbeInterval, Now: cfg.Now, Log: s.log,
	})
	return s, nil
}

// Close closes the client if the store opened it.
func (s *Store) Close() error {
	if s.own {
		return s.rdb.Close()
	}
	return nil
}

// Where names the store for messages: its URL without the password.
func (s *Store) Where() string { return s.where }

// Incr implements anvil.Store.
func (s *Store) Incr(ctx context.Context, key string, n int64, window time.Duration) (int64, error) {
	var v int64
	err := s.do(ctx, "incr", func() (err error) {
		v, err = incrScript.Run(ctx, s.rdb, []string{s.prefix + "n:" + key}, n, millis(window)).Int64()
		return err
	})
	return v, err
}

// Get implements anvil.Store.
func (s *Store) Get(ctx context.Context, key string) (time.Time, bool, error) {
	v, ok, err := s.get(ctx, "get", s.prefix+"t:"+key)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("anvil store %s: key %q holds %q, not a time", s.where, key, v)
	}
	return time.Unix(0, ns), true, nil
}

// Set implements anvil.Store. A ttl under a millisecond removes the key.
func (s *Store) Set(ctx context.Context, key string, t time.Time, ttl time.Duration) error {
	return s.set(ctx, "set", s.prefix+"t:"+key, strconv.FormatInt(t.UnixNano(), 10), ttl)
}

// GetValue implements anvil.Values.
func (s *Store) GetValue(ctx context.Context, key string) ([]byte, bool, error) {
	return s.get(ctx, "get_value", s.prefix+"v:"+key)
}

// SetValue implements anvil.Values. A ttl under a millisecond removes the
// key.
func (s *Store) SetValue(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	return s.set(ctx, "set_value", s.prefix+"v:"+key, v, ttl)
}

// get reads key; an absent key is no error.
func (s *Store) get(ctx context.Context, op, key string) ([]byte, bool, error) {
	var v []byte
	ok := false
	err := s.do(ctx, op, func() error {
		var err error
		v, err = s.rdb.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		ok = err == nil
		return err
	})
	return v, ok, err
}

func (s *Store) set(ctx context.Context, op, key string, v any, ttl time.Duration) error {
	return s.do(ctx, op, func() error {
		if ttl < time.Millisecond {
			return s.rdb.Del(ctx, key).Err()
		}
		return s.rdb.Set(ctx, key, v, ttl).Err()
	})
}

// do runs call, one round trip, unless the breaker holds it back. Every
// call that fails, asked or held back, is counted, except one its caller
// gave up on (a client that left), which says nothing about Redis. An
// error reply (WRONGTYPE, OOM: Redis answers, but not this command) is
// logged at the first of a run of them, since the callers fail open
// without a line of their own.
func (s *Store) do(ctx context.Context, op string, call func() error) error {
	if err := s.brk.Allow(op); err != nil {
		if ctx.Err() == nil {
			metrics.AnvilErrors.WithLabelValues(op).Inc()
		}
		return fmt.Errorf("%w (%s)", err, s.where)
	}
	err := call()
	s.brk.Done(ctx, op, err)
	if err == nil {
		s.refusing.Store(false)
		return nil
	}
	if ctx.Err() == nil {
		metrics.AnvilErrors.WithLabelValues(op).Inc()
		if !redisconn.Outage(err) && !s.refusing.Swap(true) {
			s.log.Warn("anvil store refused a command: the decision goes on without it", "store", s.where, "op", op, "err", err)
		}
	}
	return fmt.Errorf("anvil store %s: %s: %w", s.where, op, err)
}

// millis is d in whole milliseconds, at least 1 (PEXPIRE refuses 0).
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
