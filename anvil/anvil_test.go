package anvil

import (
	"context"
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
	if m.c.Len() > 10 {
		t.Fatalf("%d keys kept, bound is 10", m.c.Len())
	}
}
