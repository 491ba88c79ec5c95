// Package anviltest is the conformance suite of anvil's stores: every
// implementation (the in-process Memory, Redis) runs the same tests, so
// rate limits, the pregreet memory, greylisting and the callout's answers
// behave alike whichever store a gateway uses.
package anviltest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"mailguard/anvil"
)

// Store is what the suite tests: both interfaces.
type Store interface {
	anvil.Store
	anvil.Values
}

// Harness opens stores and moves their time.
type Harness struct {
	// Open returns an empty store of its own (no key of another test's).
	Open func(t *testing.T) Store
	// Advance lets d pass for st: a step of a test clock, or a sleep for
	// a store that keeps real time (Redis expires keys by its clock).
	Advance func(t *testing.T, st Store, d time.Duration)
}

// Unit is the window and ttl the suite uses: short, because a store on
// real time sleeps for it.
const Unit = 200 * time.Millisecond

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("IncrCountsInWindow", func(t *testing.T) {
		st := h.Open(t)
		for i, want := range []int64{1, 2, 3} {
			n, err := st.Incr(ctx, "conn:192.0.2.1", 1, time.Hour)
			if err != nil || n != want {
				t.Fatalf("event %d: Incr = %d, %v; want %d", i, n, err, want)
			}
		}
		if n, err := st.Incr(ctx, "conn:192.0.2.1", 5, time.Hour); err != nil || n != 8 {
			t.Fatalf("Incr by 5 = %d, %v; want 8", n, err)
		}
		if n, err := st.Incr(ctx, "conn:192.0.2.1", 0, time.Hour); err != nil || n != 8 {
			t.Fatalf("Incr by 0 (a read) = %d, %v; want 8", n, err)
		}
		if n, err := st.Incr(ctx, "conn:192.0.2.2", 1, time.Hour); err != nil || n != 1 {
			t.Fatalf("another client's count = %d, %v; want 1", n, err)
		}
		if n, err := st.Incr(ctx, "msg:192.0.2.1", 1, time.Hour); err != nil || n != 1 {
			t.Fatalf("another kind's count = %d, %v; want 1", n, err)
		}
	})
	t.Run("WindowStartsAtFirstEvent", func(t *testing.T) {
		// Events inside a window do not move its end: a client sending
		// steadily is not counted for ever.
		st := h.Open(t)
		if n, err := st.Incr(ctx, "k", 1, 2*Unit); err != nil || n != 1 {
			t.Fatalf("first event: %d, %v", n, err)
		}
		h.Advance(t, st, Unit)
		if n, err := st.Incr(ctx, "k", 1, 2*Unit); err != nil || n != 2 {
			t.Fatalf("event in the window: %d, %v; want 2", n, err)
		}
		h.Advance(t, st, Unit+Unit/2)
		if n, err := st.Incr(ctx, "k", 1, 2*Unit); err != nil || n != 1 {
			t.Fatalf("event after the window that started at the first: %d, %v; want 1 (a new window)", n, err)
		}
		if n, err := st.Incr(ctx, "k", 1, 2*Unit); err != nil || n != 2 {
			t.Fatalf("second event of the new window: %d, %v; want 2", n, err)
		}
	})
	t.Run("GetSet", func(t *testing.T) {
		st := h.Open(t)
		if _, ok, err := st.Get(ctx, "greet:192.0.2.1"); ok || err != nil {
			t.Fatalf("Get of a key never set = %v, %v; want not found", ok, err)
		}
		when := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
		if err := st.Set(ctx, "greet:192.0.2.1", when, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, ok, err := st.Get(ctx, "greet:192.0.2.1")
		if err != nil || !ok || !got.Equal(when) {
			t.Fatalf("Get = %v, %v, %v; want %v", got, ok, err, when)
		}
		later := when.Add(time.Minute)
		st.Set(ctx, "greet:192.0.2.1", later, time.Hour)
		if got, _, _ := st.Get(ctx, "greet:192.0.2.1"); !got.Equal(later) {
			t.Fatalf("after a second Set, Get = %v; want %v", got, later)
		}
		if _, ok, _ := st.Get(ctx, "greet:192.0.2.2"); ok {
			t.Fatal("another key is found")
		}
	})
	t.Run("SetExpires", func(t *testing.T) {
		st := h.Open(t)
		now := time.Now()
		st.Set(ctx, "a", now, 2*Unit)
		st.Set(ctx, "b", now, 2*Unit)
		h.Advance(t, st, Unit)
		// Setting again renews the ttl (greylisting's memory after each
		// pass).
		st.Set(ctx, "b", now, 2*Unit)
		if _, ok, _ := st.Get(ctx, "a"); !ok {
			t.Fatal("key gone before its ttl")
		}
		h.Advance(t, st, Unit+Unit/2)
		if _, ok, err := st.Get(ctx, "a"); ok || err != nil {
			t.Fatalf("key after its ttl: found %v, %v; want gone", ok, err)
		}
		if _, ok, _ := st.Get(ctx, "b"); !ok {
			t.Fatal("key set again is gone before its renewed ttl")
		}
	})
	t.Run("Values", func(t *testing.T) {
		st := h.Open(t)
		if _, ok, err := st.GetValue(ctx, "callout:x"); ok || err != nil {
			t.Fatalf("GetValue of a key never set = %v, %v", ok, err)
		}
		v := []byte("550\x005.1.1\r\nbinary \xff")
		if err := st.SetValue(ctx, "callout:x", v, 2*Unit); err != nil {
			t.Fatal(err)
		}
		v[0] = '4' // the store keeps its own copy
		got, ok, err := st.GetValue(ctx, "callout:x")
		if err != nil || !ok || !bytes.Equal(got, []byte("550\x005.1.1\r\nbinary \xff")) {
			t.Fatalf("GetValue = %q, %v, %v", got, ok, err)
		}
		st.SetValue(ctx, "callout:y", []byte("1"), time.Hour)
		h.Advance(t, st, 2*Unit+Unit/2)
		if _, ok, err := st.GetValue(ctx, "callout:x"); ok || err != nil {
			t.Fatalf("value after its ttl: found %v, %v", ok, err)
		}
		if _, ok, _ := st.GetValue(ctx, "callout:y"); !ok {
			t.Fatal("value with a longer ttl is gone")
		}
	})
	t.Run("KeysAreOpaque", func(t *testing.T) {
		// Keys hold what clients sent (addresses): none may collide with
		// or reach another.
		st := h.Open(t)
		keys := []string{"grey:192.0.2.0/24/a@b/c@d", "grey:192.0.2.0/24/a@b/c@d ", "grey:x\r\nFLUSHALL\r\n",
			"grey:{mailguard}:x", "grey:*", "grey:é", ""}
		for i, k := range keys {
			if n, err := st.Incr(ctx, k, int64(i+1), time.Hour); err != nil || n != int64(i+1) {
				t.Fatalf("Incr(%q) = %d, %v; want %d", k, n, err, i+1)
			}
		}
		for i, k := range keys {
			if n, _ := st.Incr(ctx, k, 0, time.Hour); n != int64(i+1) {
				t.Errorf("key %q counts %d, want %d", k, n, i+1)
			}
		}
	})
	t.Run("ConcurrentIncr", func(t *testing.T) {
		st := h.Open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if _, err := st.Incr(ctx, "busy", 1, time.Hour); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n, _ := st.Incr(ctx, "busy", 0, time.Hour); n != 400 {
			t.Fatalf("8 x 50 concurrent events counted %d, want 400", n)
		}
	})
}
