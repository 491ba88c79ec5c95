package filters

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckRunsOnceAtItsDeadline: a check that heeds its deadline answers
// at about the moment the phase gives up waiting for it; whichever comes
// first, the check after it runs once per transaction, never on both the
// old worker and a new one (a check may count or record what it sees:
// rates, greylisting, callouts).
func TestCheckRunsOnceAtItsDeadline(t *testing.T) {
	var next atomic.Int32
	ch := NewChain(ChainConfig{Filters: []Filter{
		check{name: "dns", sleep: time.Hour},
		check{name: "count", v: scoreTwo, ran: &next},
	}, Timeout: time.Millisecond})
	const n = 300
	for range n {
		tx := NewTransaction(&ClientConn{}, "Q1")
		ch.Rcpt(context.Background(), tx, "u@example.org")
	}
	// A worker that went on past an abandoned check has had its chance.
	time.Sleep(100 * time.Millisecond)
	if got := next.Load(); got != n {
		t.Errorf("the check after one answering at its deadline ran %d times in %d transactions", got, n)
	}
}
