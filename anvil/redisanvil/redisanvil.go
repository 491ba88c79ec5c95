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
// greylisting passes the mail); the store logs the start and the end of
// each outage once, not each failed call, and counts every failed call in
// mailguard_anvil_errors_total.
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
}

// Store is an anvil.Store and anvil.Values in Redis, safe for concurrent
// use by several goroutines and several processes.
type Store struct {
	where  string
	rdb    redis.UniversalClient
	own    bool
	prefix string
	log    *slog.Logger
	// failing is set from the first failed call of an outage to the
	// first call that succeeds after it.
	failing atomic.Bool
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
	v, err := incrScript.Run(ctx, s.rdb, []string{s.prefix + "n:" + key}, n, millis(window)).Int64()
	if err != nil {
		return 0, s.failed(ctx, "incr", err)
	}
	s.ok()
	return v, nil
}

// Get implements anvil.Store.
func (s *Store) Get(ctx context.Context, key string) (time.Time, bool, error) {
	v, err := s.rdb.Get(ctx, s.prefix+"t:"+key).Result()
	if errors.Is(err, redis.Nil) {
		s.ok()
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.failed(ctx, "get", err)
	}
	s.ok()
	ns, err := strconv.ParseInt(v, 10, 64)
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
	v, err := s.rdb.Get(ctx, s.prefix+"v:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		s.ok()
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.failed(ctx, "get_value", err)
	}
	s.ok()
	return v, true, nil
}

// SetValue implements anvil.Values. A ttl under a millisecond removes the
// key.
func (s *Store) SetValue(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	return s.set(ctx, "set_value", s.prefix+"v:"+key, v, ttl)
}

func (s *Store) set(ctx context.Context, op, key string, v any, ttl time.Duration) error {
	var err error
	if ttl < time.Millisecond {
		err = s.rdb.Del(ctx, key).Err()
	} else {
		err = s.rdb.Set(ctx, key, v, ttl).Err()
	}
	if err != nil {
		return s.failed(ctx, op, err)
	}
	s.ok()
	return nil
}

// millis is d in whole milliseconds, at least 1 (PEXPIRE refuses 0).
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// failed counts a failed call, logs the start of an outage and wraps err.
// A call its caller gave up on (a client that left) says nothing about
// Redis and is not counted.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if ctx.Err() == nil {
		metrics.AnvilErrors.WithLabelValues(op).Inc()
		if !s.failing.Swap(true) {
			s.log.Warn("anvil store failed: rate limits and the pregreet memory do not apply, greylisting passes mail, callout answers are not shared until it answers again",
				"store", s.where, "op", op, "err", err)
		}
	}
	return fmt.Errorf("anvil store %s: %s: %w", s.where, op, err)
}

// ok logs the end of an outage.
func (s *Store) ok() {
	if s.failing.Load() && s.failing.Swap(false) {
		s.log.Info("anvil store answers again", "store", s.where)
	}
}
