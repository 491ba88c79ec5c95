// Package redisstore is the shared token store: token counts in Redis (or
// Valkey), so several gateway instances behind one MX learn as one.
//
// Layout, every key under Config.Prefix (one Cluster hash tag):
//
//	spam, ham   hashes: 8-byte big-endian FNV-1a hash of a token -> count
//	            (the embedded store's hash, so `store copy` moves counts)
//	totals      hash: spam, ham -> learnt messages
//	lastuse     sorted set of token hashes by pruning order: hapaxes
//	            (seen in one message) score their last learning day,
//	            the others that day plus 2^20, so the lowest go first
//	msg:KEY     string: class byte (S or H), then the message's token
//	            hashes; KEY is the hex classifier.DigestKey of its digest;
//	            it expires MessageTTL after its last learning
//
// Messages are learnt by a Lua script (atomic, one round trip for a
// message or a batch of up to scriptTokens token updates); a
// message's counts are read by one MULTI/EXEC of three HMGETs (one round
// trip, one consistent view). When the token set outgrows MaxTokens the
// learning script pops the lowest of lastuse: the embedded store's policy,
// hapaxes first then the least recently learnt. No path uses KEYS or SCAN.
//
// The gateway opens the store FailFast: its reads are bounded by
// redisconn.QuickTimeout without retry, and a circuit breaker skips Redis
// once it failed, letting one read through every ProbeInterval, so a Redis
// that is down or hangs costs at most one short timeout per interval.
package redisstore

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"mailguard/classifier"
	"mailguard/redisconn"
)

// DefaultMaxTokens is the token cap when Config.MaxTokens is zero, the
// embedded store's.
const DefaultMaxTokens = 2_000_000

// DefaultMessageTTL is how long a learnt message's record (class and
// tokens) outlives its last learning when Config.MessageTTL is zero;
// learning it again after that counts it again.
const DefaultMessageTTL = 400 * 24 * time.Hour

// Config opens a store.
type Config struct {
	// URL is the store value, redis://host:port/db (see redisconn).
	URL string
	// Client, when set, is used instead of opening URL (and not closed).
	Client redis.UniversalClient
	// Prefix starts every key; "" means redisconn.Prefix + "bayes:".
	Prefix string
	// MaxTokens caps the token set; 0 means DefaultMaxTokens.
	MaxTokens int
	// MessageTTL is the life of a learnt message's record; 0 means
	// DefaultMessageTTL.
	MessageTTL time.Duration
	// Now gives the learning day and the probe times; nil means time.Now.
	Now func() time.Time
	// FailFast is for the gateway, which classifies without the Bayes
	// score when the store fails and must not make every message wait for
	// a Redis that is down or hangs. Reads (Counts, Totals, Tokens) go
	// through a client with redisconn.OpenQuick's bounds (QuickTimeout,
	// no retry; Client when set), and once a call fails the reads return
	// ErrDown without asking Redis, except one every ProbeInterval, until
	// one succeeds. Learning keeps the patient client (Open's), and its
	// outcome opens or closes the breaker too.
	FailFast bool
	// ProbeInterval is how often a failing fail-fast store lets a read
	// through; 0 means DefaultProbeInterval.
	ProbeInterval time.Duration
	// Log receives a fail-fast store's outage lines, one when Redis is
	// found failing and one when it answers again (default
	// slog.Default()).
	Log *slog.Logger
}

// Store is a classifier.Store in Redis. It is safe for concurrent use, and
// by several processes.
type Store struct {
	where string
	rdb   redis.UniversalClient
	own   bool
	// read serves Counts, Totals and Tokens: rdb, or a quick client of
	// its own (ownRead) when FailFast.
	read              redis.UniversalClient
	ownRead           bool
	brk               *breaker // nil unless FailFast
	kSpam, kHam, kTot string
	kLast, kMsg       string
	maxTokens         int
	ttl               time.Duration
	now               func() time.Time
}

var _ classifier.Store = (*Store)(nil)

//go:embed learn.lua
var learnSource string

var learnScript = redis.NewScript(learnSource)

// Open returns a store; it does not connect (go-redis dials on first use
// and reconnects by itself).
func Open(cfg Config) (*Store, error) {
	s := &Store{where: redisconn.Redact(cfg.URL), rdb: cfg.Client, maxTokens: cfg.MaxTokens, ttl: cfg.MessageTTL, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rdb == nil {
		c, err := redisconn.Open(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("token store: %w", err)
		}
		s.rdb, s.own = c, true
	}
	s.read = s.rdb
	if cfg.FailFast {
		if cfg.Client == nil {
			c, err := redisconn.OpenQuick(cfg.URL)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("token store: %w", err)
			}
			s.read, s.ownRead = c, true
		}
		s.brk = &breaker{where: s.where, interval: cfg.ProbeInterval, now: s.now, log: cfg.Log}
		if s.brk.interval <= 0 {
			s.brk.interval = DefaultProbeInterval
		}
		if s.brk.log == nil {
			s.brk.log = slog.Default()
		}
	}
	p := cfg.Prefix
	if p == "" {
		p = redisconn.Prefix + "bayes:"
	}
	s.kSpam, s.kHam, s.kTot, s.kLast, s.kMsg = p+"spam", p+"ham", p+"totals", p+"lastuse", p+"msg:"
	if s.maxTokens <= 0 {
		s.maxTokens = DefaultMaxTokens
	}
	if s.ttl <= 0 {
		s.ttl = DefaultMessageTTL
	}
	return s, nil
}

// Close closes the clients the store opened.
func (s *Store) Close() error {
	var err error
	if s.ownRead {
		err = s.read.Close()
	}
	if s.own {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// allow is the breaker's allow; a store without one always asks Redis.
func (s *Store) allow(op string) error {
	if s.brk == nil {
		return nil
	}
	return s.brk.allow(op)
}

// done tells the breaker, if any, how a call that reached Redis went.
func (s *Store) done(ctx context.Context, op string, err error) {
	if s.brk != nil {
		s.brk.done(ctx, op, err)
	}
}

// Where names the store for messages: its URL without the password.
func (s *Store) Where() string { return s.where }

// Client returns the store's Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func (s *Store) msgKey(k [16]byte) string { return s.kMsg + hex.EncodeToString(k[:]) }

// Hash is a token's field name: the 8-byte big-endian FNV-1a hash the
// embedded store keys it by.
func Hash(tok string) string {
	h := fnv.New64a()
	h.Write([]byte(tok))
	return string(binary.BigEndian.AppendUint64(nil, h.Sum64()))
}

// scriptTokens bounds the token updates of one learning script: Redis
// runs a script alone, so a long one would hold up every gateway's reads.
const scriptTokens = 4096

// Learn implements classifier.Store. Each message is learnt atomically (its
// counts, its record and the totals move together, so a reader never sees
// half a message); a large batch is split into several scripts of about
// scriptTokens token updates, in order.
func (s *Store) Learn(ctx context.Context, docs ...classifier.Doc) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	day := s.now().UTC().Unix() / 86400
	changed := 0
	keys := []string{s.kSpam, s.kHam, s.kTot, s.kLast}
	args := []any{day, s.maxTokens, int64(s.ttl / time.Second)}
	pending := 0
	flush := func() error {
		if len(keys) == 4 {
			return nil
		}
		n, err := learnScript.Run(ctx, s.rdb, keys, args...).Int()
		s.done(ctx, "learn", err)
		if err != nil {
			return fmt.Errorf("token store: learn: %w", err)
		}
		changed += n
		keys, args, pending = keys[:4], args[:3], 0
		return nil
	}
	for _, d := range docs {
		cls := "H"
		if d.Spam {
			cls = "S"
		}
		seen := make(map[string]bool, len(d.Tokens))
		b := make([]byte, 0, 8*len(d.Tokens))
		for _, t := range d.Tokens {
			h := Hash(t)
			if !seen[h] {
				seen[h] = true
				b = append(b, h...)
			}
		}
		if pending > 0 && pending+len(seen) > scriptTokens {
			if err := flush(); err != nil {
				return changed, err
			}
		}
		keys = append(keys, s.msgKey(classifier.DigestKey(d.Digest)))
		args = append(args, cls, b)
		pending += len(seen)
	}
	if err := flush(); err != nil {
		return changed, err
	}
	return changed, nil
}

// Counts implements classifier.Store in one round trip.
func (s *Store) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	if err := s.allow("counts"); err != nil {
		return nil, classifier.Totals{}, err
	}
	fields := make([]string, len(tokens))
	for i, t := range tokens {
		fields[i] = Hash(t)
	}
	var sp, hm *redis.SliceCmd
	var tc *redis.SliceCmd
	_, err := s.read.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(fields) > 0 {
			sp = p.HMGet(ctx, s.kSpam, fields...)
			hm = p.HMGet(ctx, s.kHam, fields...)
		}
		tc = p.HMGet(ctx, s.kTot, "spam", "ham")
		return nil
	})
	s.done(ctx, "counts", err)
	if err != nil {
		return nil, classifier.Totals{}, fmt.Errorf("token store: counts: %w", err)
	}
	out := make([]classifier.Counts, len(tokens))
	if len(fields) > 0 {
		for i, v := range sp.Val() {
			out[i].Spam = uint32(num(v))
		}
		for i, v := range hm.Val() {
			out[i].Ham = uint32(num(v))
		}
	}
	tv := tc.Val()
	return out, classifier.Totals{Spam: num(tv[0]), Ham: num(tv[1])}, nil
}

// Totals implements classifier.Store.
func (s *Store) Totals(ctx context.Context) (classifier.Totals, error) {
	if err := s.allow("totals"); err != nil {
		return classifier.Totals{}, err
	}
	v, err := s.read.HMGet(ctx, s.kTot, "spam", "ham").Result()
	s.done(ctx, "totals", err)
	if err != nil {
		return classifier.Totals{}, fmt.Errorf("token store: totals: %w", err)
	}
	return classifier.Totals{Spam: num(v[0]), Ham: num(v[1])}, nil
}

// Tokens returns how many tokens the store holds.
func (s *Store) Tokens(ctx context.Context) (int64, error) {
	if err := s.allow("tokens"); err != nil {
		return 0, err
	}
	n, err := s.read.ZCard(ctx, s.kLast).Result()
	s.done(ctx, "tokens", err)
	if err != nil {
		return 0, fmt.Errorf("token store: tokens: %w", err)
	}
	return n, nil
}

// num reads an HMGET value: nil (absent) is 0, as is anything negative.
func num(v any) uint64 {
	str, ok := v.(string)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return uint64(n)
}
