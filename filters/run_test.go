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

// hungCheck never answers until released, deaf to its context.
type hungCheck struct {
	calls   *atomic.Int32
	release chan struct{}
}

func (hungCheck) Name() string { return "hung" }

func (c hungCheck) CheckRcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	c.calls.Add(1)
	<-c.release
	return Verdict{}
}

// TestHungCheckBounded: a check hung for good (a server that never
// answers, a library deaf to its context) holds at most maxStuck calls,
// goroutines and their transactions; past that it is skipped as no
// opinion, the checks after it still run, and once its calls come back it
// runs again.
func TestHungCheckBounded(t *testing.T) {
	hung := hungCheck{calls: &atomic.Int32{}, release: make(chan struct{})}
	var after atomic.Int32
	ch := NewChain(ChainConfig{Filters: []Filter{hung, check{name: "s", v: scoreTwo, ran: &after}}, Timeout: 2 * time.Millisecond})
	n := 0
	rcpt := func() {
		t.Helper()
		n++
		tx := NewTransaction(&ClientConn{}, "Q1")
		if ch.Rcpt(context.Background(), tx, "u@example.org"); tx.Total() != 2 {
			t.Fatalf("score %v, want 2 from the check after the hung one", tx.Total())
		}
	}
	// A phase that gives up before its worker began the check (a busy
	// host) does not enter it: go on until maxStuck calls hang.
	for hung.calls.Load() < maxStuck && n < 100*maxStuck {
		rcpt()
	}
	for range 2 * maxStuck {
		rcpt()
	}
	if c := hung.calls.Load(); c != maxStuck {
		t.Errorf("the hung check was entered %d times in %d transactions, want %d", c, n, maxStuck)
	}
	if a := after.Load(); a != int32(n) {
		t.Errorf("the check after it ran %d times in %d transactions", a, n)
	}
	close(hung.release)
	for ch.rcpt[0].stuck.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	ch.Rcpt(context.Background(), NewTransaction(&ClientConn{}, "Q2"), "u@example.org")
	if c := hung.calls.Load(); c != maxStuck+1 {
		t.Errorf("after its calls came back the check was entered %d times in all, want %d", c, maxStuck+1)
	}
}
