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

// lateCheck rejects its first transaction late, deaf to its deadline, and
// lets every later one pass at once.
type lateCheck struct {
	calls   *atomic.Int32
	release chan struct{}
	done    chan struct{}
}

func (lateCheck) Name() string { return "late" }

func (c lateCheck) CheckRcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	if c.calls.Add(1) > 1 {
		return Verdict{}
	}
	<-c.release
	defer close(c.done)
	return rejectA
}

// releaser lets lateCheck's first call return during its second
// transaction, and waits until it has.
type releaser struct {
	calls *atomic.Int32
	late  lateCheck
}

func (releaser) Name() string { return "releaser" }

func (c releaser) CheckRcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	if c.calls.Add(1) == 2 {
		close(c.late.release)
		<-c.late.done
	}
	return Verdict{}
}

// TestLateVerdictNotCarriedOver: a check's verdict that comes after its
// transaction's phase gave up on it is dropped; it is not taken for the
// verdict of the next transaction, running as it arrives.
func TestLateVerdictNotCarriedOver(t *testing.T) {
	late := lateCheck{calls: &atomic.Int32{}, release: make(chan struct{}), done: make(chan struct{})}
	ch := NewChain(ChainConfig{Filters: []Filter{late, releaser{calls: &atomic.Int32{}, late: late}}, Timeout: 20 * time.Millisecond})
	if v := ch.Rcpt(context.Background(), NewTransaction(&ClientConn{}, "Q1"), "u@example.org"); v.Action != Continue {
		t.Fatalf("first transaction: %v, want continue (the late check is no opinion)", v.Action)
	}
	if v := ch.Rcpt(context.Background(), NewTransaction(&ClientConn{}, "Q2"), "u@example.org"); v.Action != Continue {
		t.Errorf("second transaction: %v (%s), want continue: the first one's late reject was applied to it", v.Action, v.Reply.Text)
	}
}
