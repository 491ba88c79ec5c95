// Package redisconn opens the Redis (or Valkey) client a `store:
// redis://...` value names, for the shared token store and quarantine.
//
// Forms, parsed by go-redis:
//
//	redis://[user:password@]host:port/db        one server
//	rediss://...                                the same over TLS
//	redis://host:port/db?master_name=M&addr=...  Sentinel (addresses are the sentinels')
//	redis://host:port?addr=host2:port2&addr=...  Cluster (several addr, no master_name)
//
// plus go-redis's timeout and pool parameters (dial_timeout=3s, ...).
// Every key of mailguard's lives under one hash tag, so scripts touching
// several keys run on a Cluster too (on one shard).
package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Prefix starts every key mailguard writes; the braces are the Cluster hash
// tag.
const Prefix = "{mailguard}:"

// IsRedis reports whether a store value names Redis.
func IsRedis(store string) bool {
	return strings.HasPrefix(store, "redis://") || strings.HasPrefix(store, "rediss://")
}

// Options parses store into go-redis's universal options; the error says
// what is wrong without echoing a password.
func Options(store string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(store)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not redis://host:port/db", Redact(store))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", Redact(store))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q is not 1-65535", Redact(store), p)
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return nil, fmt.Errorf("%q: database %q is not a number 0 or more", Redact(store), db)
		}
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(store)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", Redact(store), err)
		}
		return &redis.UniversalOptions{
			Addrs: o.SentinelAddrs, MasterName: o.MasterName, DB: o.DB,
			Username: o.Username, Password: o.Password,
			SentinelUsername: o.SentinelUsername, SentinelPassword: o.SentinelPassword,
			TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout,
			WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize, MaxRetries: o.MaxRetries,
		}, nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(store)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", Redact(store), err)
		}
		return &redis.UniversalOptions{
			Addrs: o.Addrs, IsClusterMode: true, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout,
			WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize, MaxRetries: o.MaxRetries,
		}, nil
	}
	o, err := redis.ParseURL(store)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", Redact(store), err)
	}
	return &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout,
		WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize, MaxRetries: o.MaxRetries, Protocol: o.Protocol,
	}, nil
}

// Defaults where the URL sets none (dial_timeout=, max_retries=): a down
// Redis must cost a message milliseconds, not go-redis's default of five
// dials with backoff on each of four tries. The classifier then gives no
// opinion and the quarantine answers 451; go-redis reconnects by itself.
const (
	DefaultDialTimeout = time.Second
	DefaultMaxRetries  = 1
	defaultDials       = 1
)

// Open returns a client for store. It does not connect: go-redis dials on
// first use and again after a failure, so a Redis that is down at start or
// restarts later is picked up by itself. A caller's context deadline bounds
// its call (go-redis ignores it unless told), so a caller can give one
// call less than the read timeout.
func Open(store string) (redis.UniversalClient, error) {
	o, err := Options(store)
	if err != nil {
		return nil, err
	}
	q, _ := url.Parse(store)
	if !q.Query().Has("dial_timeout") {
		o.DialTimeout = DefaultDialTimeout
	}
	if !q.Query().Has("max_retries") {
		o.MaxRetries = DefaultMaxRetries
	}
	o.DialerRetries = defaultDials
	o.ContextTimeoutEnabled = true
	return redis.NewUniversalClient(o), nil
}

// QuickTimeout bounds each call of a client from OpenQuick where the URL
// sets no timeout: Redis answers such calls in well under a millisecond on
// a LAN, and a caller that fails open gains nothing from waiting longer.
const QuickTimeout = 500 * time.Millisecond

// OpenQuick is Open for callers that fail open and sit on every
// connection's path (the rate limits, pregreet and greylisting): where the
// URL sets none, dialing, reading, writing and waiting for a pooled
// connection each time out after QuickTimeout and a failed call is not
// retried. A Redis that hangs then costs a decision QuickTimeout instead of
// the seconds go-redis's defaults take.
func OpenQuick(store string) (redis.UniversalClient, error) {
	o, err := Options(store)
	if err != nil {
		return nil, err
	}
	q, _ := url.Parse(store)
	set := func(key string, d *time.Duration) {
		if !q.Query().Has(key) {
			*d = QuickTimeout
		}
	}
	set("dial_timeout", &o.DialTimeout)
	set("read_timeout", &o.ReadTimeout)
	set("write_timeout", &o.WriteTimeout)
	set("pool_timeout", &o.PoolTimeout)
	if !q.Query().Has("max_retries") {
		o.MaxRetries = -1 // go-redis: -1 is no retry, 0 its default of 3
	}
	o.DialerRetries = defaultDials
	o.ContextTimeoutEnabled = true
	return redis.NewUniversalClient(o), nil
}

// Redact hides the password of a store value for messages.
func Redact(store string) string {
	u, err := url.Parse(store)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); !ok {
		return store
	}
	return u.Redacted()
}

// goRedisLog sends go-redis's own messages (a failed dial, each time) to
// slog at debug level: the failure that matters is logged once per
// decision by the caller, with the queue id.
type goRedisLog struct{}

func (goRedisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

func init() { redis.SetLogger(goRedisLog{}) }
