package anvil_test

import (
	"sync"
	"testing"
	"time"

	"mailguard/anvil"
	"mailguard/anvil/anviltest"
)

// clocked is a Memory on a test clock.
type clocked struct {
	*anvil.Memory
	mu  sync.Mutex
	now time.Time
}

func TestMemoryConformance(t *testing.T) {
	anviltest.Run(t, anviltest.Harness{
		Open: func(t *testing.T) anviltest.Store {
			c := &clocked{Memory: anvil.NewMemory(0), now: time.Unix(1e9, 0)}
			c.SetClock(func() time.Time {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.now
			})
			return c
		},
		Advance: func(t *testing.T, st anviltest.Store, d time.Duration) {
			c := st.(*clocked)
			c.mu.Lock()
			c.now = c.now.Add(d)
			c.mu.Unlock()
		},
	})
}
