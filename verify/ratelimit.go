package verify

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// limiter is a token bucket per key (a domain): each key may take Burst
// tokens at once and gets Rate tokens back a second. It keeps at most
// maxKeys buckets; a forgotten key starts again with a full bucket, which
// only matters for keys idle long enough to be the least recently used.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets *lru.Cache[string, *bucket]
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxLimiterKeys = 10000

func newLimiter(rate float64, burst int) *limiter {
	c, _ := lru.New[string, *bucket](maxLimiterKeys)
	return &limiter{rate: rate, burst: float64(burst), now: time.Now, buckets: c}
}

// allow takes a token from key's bucket; it reports false when the bucket
// is empty. A rate of 0 or less means no limit.
func (l *limiter) allow(key string) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets.Get(key)
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets.Add(key, b)
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
