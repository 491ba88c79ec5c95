package anvil

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestMemoryWindows(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1e9, 0)
	m := NewMemory(10)
	m.SetClock(func() time.Time { return now })
	for i, want := range []int64{1, 2, 3} {
		if n, _ := m.Incr(ctx, "c", 1, time.Minute); n != want {
			t.Fatalf("event %d: count %d, want %d", i, n, want)
		}
	}
	now = now.Add(time.Minute)
	if n, _ := m.Incr(ctx, "c", 1, time.Minute); n != 1 {
		t.Fatalf("new window: count %d, want 1", n)
	}
	m.Set(ctx, "p", now, time.Hour)
	if _, ok, _ := m.Get(ctx, "p"); !ok {
		t.Fatal("remembered key not found")
	}
	now = now.Add(time.Hour)
	if _, ok, _ := m.Get(ctx, "p"); ok {
		t.Fatal("key found after its ttl")
	}
	for i := range 20 {
		m.Incr(ctx, string(rune('a'+i)), 1, time.Hour)
	}
	if n := m.Len(); n > 10 {
		t.Fatalf("%d keys kept, bound is 10", n)
	}
}

// BenchmarkMemoryIncr counts connections as the proxy does under a flood:
// every goroutine at once, over a few thousand client addresses.
func BenchmarkMemoryIncr(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(0)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "conn:127.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			m.Incr(ctx, keys[i], 1, time.Minute)
			i = (i + 1) % len(keys)
		}
	})
}

// TestMemoryShardedBound: a store large enough to be sharded keeps no more
// than its bound under a flood of new keys, and a key in use is not pushed
// out by them.
func TestMemoryShardedBound(t *testing.T) {
	ctx := context.Background()
	const bound = 20000
	m := NewMemory(bound)
	if len(m.shards) < 2 {
		t.Fatalf("%d shards for %d keys", len(m.shards), bound)
	}
	for i := range 5 * bound {
		if i%100 == 0 {
			if n, _ := m.Incr(ctx, "conn:busy", 1, time.Hour); n != int64(i/100+1) {
				t.Fatalf("busy client's count %d after %d events, want %d", n, i/100, i/100+1)
			}
		}
		m.Incr(ctx, "conn:"+strconv.Itoa(i), 1, time.Hour)
	}
	if n := m.Len(); n > bound || n < bound*9/10 {
		t.Fatalf("%d keys kept, bound is %d", n, bound)
	}
}
