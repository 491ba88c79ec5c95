// Package anvil keeps the gateway's per-client counters and memories, as
// Postfix's anvil server does: how many connections, messages, recipients
// and AUTH failures a client had in a window, and which clients passed a
// test (the pregreet, greylisting) and until when.
//
// Store is the interface the proxy and greylisting use; Memory is the
// in-process one. A shared store (package redisanvil, on Redis) implements
// the same calls so that several gateways count together. Values is the
// small byte memory the recipient callout keeps its answers in; both
// stores implement it too.
package anvil

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Store counts events in fixed windows and remembers timestamps.
type Store interface {
	// Incr adds n to key's count in the current window of length window
	// (a window starts at the key's first event and lasts window) and
	// returns the count after adding.
	Incr(ctx context.Context, key string, n int64, window time.Duration) (int64, error)
	// Get returns the time stored under key, and false when there is none
	// or it expired.
	Get(ctx context.Context, key string) (time.Time, bool, error)
	// Set stores t under key for ttl.
	Set(ctx context.Context, key string, t time.Time, ttl time.Duration) error
}

// Values remembers small byte strings for a time (the callout's answers).
type Values interface {
	// GetValue returns the value stored under key, and false when there
	// is none or it expired.
	GetValue(ctx context.Context, key string) ([]byte, bool, error)
	// SetValue stores v under key for ttl.
	SetValue(ctx context.Context, key string, v []byte, ttl time.Duration) error
}

// DefaultMemoryKeys bounds a Memory store: the least recently used keys go
// first, so a flood of new clients cannot grow it without bound.
const DefaultMemoryKeys = 200000

// Memory is a Store in this process's memory, bounded to a number of keys.
//
// Its keys are spread by hash over up to memoryShards shards, each an LRU
// list under its own lock, so that sessions counting different clients at
// once do not wait for each other: every connection, message and recipient
// is counted here. The bound is the sum of the shards' bounds, so the least
// recently used key goes first within its shard, not across the store;
// stores under memoryShards*minShardKeys keys have one shard, an exact LRU.
type Memory struct {
	shards []memoryShard
	seed   maphash.Seed
	now    atomic.Pointer[func() time.Time]
}

// memoryShard is one lock and its keys, padded to a cache line of its own
// so that shards taken on different cores do not share one.
type memoryShard struct {
	mu sync.Mutex
	c  *simplelru.LRU[string, *entry]
	_  [48]byte
}

const (
	memoryShards = 16
	minShardKeys = 1024
)

type entry struct {
	n       int64
	t       time.Time
	v       []byte
	expires time.Time
}

// NewMemory returns a Memory holding at most keys keys (DefaultMemoryKeys
// when keys <= 0).
func NewMemory(keys int) *Memory {
	if keys <= 0 {
		keys = DefaultMemoryKeys
	}
	n := min(max(keys/minShardKeys, 1), memoryShards)
	m := &Memory{shards: make([]memoryShard, n), seed: maphash.MakeSeed()}
	for i := range m.shards {
		size := keys / n
		if i < keys%n {
			size++
		}
		m.shards[i].c, _ = simplelru.NewLRU[string, *entry](size, nil)
	}
	now := time.Now
	m.now.Store(&now)
	return m
}

// SetClock replaces the clock (for tests that step time).
func (m *Memory) SetClock(now func() time.Time) {
	m.now.Store(&now)
}

func (m *Memory) clock() time.Time { return (*m.now.Load())() }

// shard is key's shard, locked; the caller unlocks it.
func (m *Memory) shard(key string) *memoryShard {
	sh := &m.shards[0]
	if len(m.shards) > 1 {
		sh = &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
	}
	sh.mu.Lock()
	return sh
}

// Len is the number of keys held, expired ones included until they are
// looked up or pushed out.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += sh.c.Len()
		sh.mu.Unlock()
	}
	return n
}

// Incr implements Store.
func (m *Memory) Incr(_ context.Context, key string, n int64, window time.Duration) (int64, error) {
	now := m.clock()
	sh := m.shard(key)
	defer sh.mu.Unlock()
	// The entry is changed in place: Get has made it the most recently
	// used already.
	e, ok := sh.c.Get(key)
	if !ok || !now.Before(e.expires) {
		e = &entry{expires: now.Add(window)}
		sh.c.Add(key, e)
	}
	e.n += n
	return e.n, nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (time.Time, bool, error) {
	now := m.clock()
	sh := m.shard(key)
	defer sh.mu.Unlock()
	e, ok := sh.c.Get(key)
	if !ok || !now.Before(e.expires) {
		return time.Time{}, false, nil
	}
	return e.t, true, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, t time.Time, ttl time.Duration) error {
	now := m.clock()
	sh := m.shard(key)
	defer sh.mu.Unlock()
	sh.c.Add(key, &entry{t: t, expires: now.Add(ttl)})
	return nil
}

// GetValue implements Values.
func (m *Memory) GetValue(_ context.Context, key string) ([]byte, bool, error) {
	now := m.clock()
	sh := m.shard(key)
	defer sh.mu.Unlock()
	e, ok := sh.c.Get(key)
	if !ok || !now.Before(e.expires) {
		return nil, false, nil
	}
	return append([]byte(nil), e.v...), true, nil
}

// SetValue implements Values.
func (m *Memory) SetValue(_ context.Context, key string, v []byte, ttl time.Duration) error {
	now := m.clock()
	sh := m.shard(key)
	defer sh.mu.Unlock()
	sh.c.Add(key, &entry{v: append([]byte(nil), v...), expires: now.Add(ttl)})
	return nil
}
