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
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
type Memory struct {
	mu  sync.Mutex
	c   *lru.Cache[string, entry]
	now func() time.Time
}

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
	c, _ := lru.New[string, entry](keys)
	return &Memory{c: c, now: time.Now}
}

// SetClock replaces the clock (for tests that step time).
func (m *Memory) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// Incr implements Store.
func (m *Memory) Incr(_ context.Context, key string, n int64, window time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.c.Get(key)
	if !ok || !now.Before(e.expires) {
		e = entry{expires: now.Add(window)}
	}
	e.n += n
	m.c.Add(key, e)
	return e.n, nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.c.Get(key)
	if !ok || !m.now().Before(e.expires) {
		return time.Time{}, false, nil
	}
	return e.t, true, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, t time.Time, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c.Add(key, entry{t: t, expires: m.now().Add(ttl)})
	return nil
}

// GetValue implements Values.
func (m *Memory) GetValue(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.c.Get(key)
	if !ok || !m.now().Before(e.expires) {
		return nil, false, nil
	}
	return append([]byte(nil), e.v...), true, nil
}

// SetValue implements Values.
func (m *Memory) SetValue(_ context.Context, key string, v []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c.Add(key, entry{v: append([]byte(nil), v...), expires: m.now().Add(ttl)})
	return nil
}
