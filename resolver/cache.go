package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"mailguard/metrics"
)

// Bounds on how long answers are kept. The floor spares the DNS lists'
// servers from zero-TTL answers; the ceiling keeps a changed listing from
// going unnoticed for days. Failures are kept only briefly (RFC 2308
// section 7 allows up to five minutes) so a recovering server is asked
// again soon, while a dead one does not cost every client the full timeout.
const (
	minTTL  = time.Minute
	maxTTL  = 24 * time.Hour
	failTTL = 30 * time.Second
)

type cacheKey struct {
	name  string
	qtype uint16
}

type entry struct {
	res     Result
	err     error
	expires time.Time
}

// cache answers repeated questions from memory and collapses concurrent
// identical questions into one query.
type cache struct {
	next    *client
	lru     *lru.Cache[cacheKey, entry]
	now     func() time.Time
	timeout time.Duration

	mu     sync.Mutex
	flight map[cacheKey]*call
}

// call is one query in flight; done is closed when res and err are set.
type call struct {
	done chan struct{}
	res  Result
	err  error
}

func newCache(next *client, size int, now func() time.Time) (*cache, error) {
	l, err := lru.New[cacheKey, entry](size)
	if err != nil {
		return nil, fmt.Errorf("resolver: cache: %w", err)
	}
	return &cache{next: next, lru: l, now: now, timeout: next.timeout, flight: map[cacheKey]*call{}}, nil
}

// Lookup answers from the cache, or asks once however many callers ask the
// same question at the same time. The query runs to its own timeout even if
// the caller gives up earlier, so its answer is cached for the next caller.
func (c *cache) Lookup(ctx context.Context, name string, qtype uint16) (Result, error) {
	name, err := checkName(name)
	if err != nil {
		return Result{}, err
	}
	k := cacheKey{strings.ToLower(name), qtype}
	if r, err, ok := c.get(k); ok {
		metrics.DNSCache.WithLabelValues("hit").Inc()
		return r, err
	}
	metrics.DNSCache.WithLabelValues("miss").Inc()
	c.mu.Lock()
	cl, ok := c.flight[k]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.flight[k] = cl
		go c.run(context.WithoutCancel(ctx), k, cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.res, cl.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("resolve %s: %w: %w", name, ctx.Err(), ErrTemporary)
	}
}

func (c *cache) run(ctx context.Context, k cacheKey, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.next.lookup(ctx, k.name, k.qtype)
	now := c.now()
	e := entry{res: res, err: err}
	switch {
	case err == nil:
		e.expires = now.Add(min(max(res.TTL, minTTL), maxTTL))
		c.lru.Add(k, e)
	case errors.Is(err, ErrTemporary):
		e.expires = now.Add(failTTL)
		c.lru.Add(k, e)
	}
	cl.res, cl.err = res, err
	if err == nil {
		cl.res.TTL = e.expires.Sub(now)
	}
	c.mu.Lock()
	delete(c.flight, k)
	c.mu.Unlock()
	close(cl.done)
}

// get returns a live cache entry, its TTL counted down.
func (c *cache) get(k cacheKey) (Result, error, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return Result{}, nil, false
	}
	left := e.expires.Sub(c.now())
	if left <= 0 {
		c.lru.Remove(k)
		return Result{}, nil, false
	}
	if e.err != nil {
		return Result{}, e.err, true
	}
	r := e.res
	r.TTL = left.Truncate(time.Second)
	return r, nil, true
}
