package filters

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake checks: each phase method answers the configured verdict.
type check struct {
	name  string
	v     Verdict
	panic bool
	sleep time.Duration
	// deaf: the sleep does not heed the context.
	deaf bool
	// ran counts the calls, when set.
	ran *atomic.Int32
}

func (c check) Name() string { return c.name }

func (c check) answer(ctx context.Context) Verdict {
	if c.ran != nil {
		c.ran.Add(1)
	}
	if c.panic {
		panic("boom")
	}
	if c.sleep > 0 && c.deaf {
		time.Sleep(c.sleep)
	} else if c.sleep > 0 {
		select {
		case <-time.After(c.sleep):
		case <-ctx.Done():
		}
	}
	return c.v
}

func (c check) CheckRcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	return c.answer(ctx)
}

func (c check) CheckMessage(ctx context.Context, t *Transaction, m *Message) Verdict {
	return c.answer(ctx)
}

var (
	rejectA  = Refuse(Reply{554, "5.7.1", "A"}, "a")
	rejectB  = Refuse(Reply{550, "5.1.1", "B"}, "b")
	tempA    = Refuse(Reply{450, "4.1.8", "T"}, "t")
	holdA    = Hold("h")
	scoreTwo = Scored("TWO", 2, "")
)

func TestRcptVerdictCombination(t *testing.T) {
	tests := []struct {
		name      string
		checks    []check
		action    Action
		reply     string
		wantScore float64
	}{
		{"none", nil, Continue, "", 0},
		{"pass", []check{{name: "p"}}, Continue, "", 0},
		{"score only", []check{{name: "s", v: scoreTwo}}, Continue, "", 2},
		{"reject beats tempfail", []check{{name: "t", v: tempA}, {name: "r", v: rejectA}}, Reject, "A", 0},
		{"tempfail beats quarantine", []check{{name: "h", v: holdA}, {name: "t", v: tempA}}, Tempfail, "T", 0},
		{"quarantine beats continue", []check{{name: "s", v: scoreTwo}, {name: "h", v: holdA}}, Quarantine, "", 2},
		{"tie goes to the first", []check{{name: "a", v: rejectA}, {name: "b", v: rejectB}}, Reject, "A", 0},
		{"tie goes to the first (reversed)", []check{{name: "b", v: rejectB}, {name: "a", v: rejectA}}, Reject, "B", 0},
		{"panic is no opinion", []check{{name: "p", panic: true}, {name: "s", v: scoreTwo}}, Continue, "", 2},
		{"overrun is no opinion", []check{{name: "slow", v: rejectA, sleep: time.Hour}}, Continue, "", 0},
		{"overrun deaf to its deadline is no opinion", []check{{name: "deaf", v: rejectA, sleep: 300 * time.Millisecond, deaf: true}}, Continue, "", 0},
		{"checks after an overrun still run", []check{{name: "slow", v: rejectA, sleep: time.Hour}, {name: "s", v: scoreTwo}, {name: "r", v: rejectB}}, Reject, "B", 2},
		{"checks after a deaf overrun still run", []check{{name: "s", v: scoreTwo}, {name: "deaf", v: rejectA, sleep: 300 * time.Millisecond, deaf: true}, {name: "h", v: holdA}, {name: "s2", v: scoreTwo}}, Quarantine, "", 4},
		{"checks after a panic still run", []check{{name: "p", panic: true}, {name: "r", v: rejectA}}, Reject, "A", 0},
		{"nothing runs after a reject", []check{{name: "r", v: rejectA}, {name: "p", panic: true}, {name: "s", v: scoreTwo}}, Reject, "A", 0},
		{"refusal without reply is no opinion", []check{{name: "bad", v: Verdict{Action: Reject, Scores: []Score{{Test: "X", Points: 1}}}}}, Continue, "", 1},
		{"scores before a reject are kept", []check{{name: "s", v: scoreTwo}, {name: "r", v: rejectA}}, Reject, "A", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fs []Filter
			for _, c := range tt.checks {
				fs = append(fs, c)
			}
			ch := NewChain(ChainConfig{Filters: fs, Timeout: 50 * time.Millisecond})
			tx := NewTransaction(&ClientConn{}, "Q1")
			v := ch.Rcpt(context.Background(), tx, "u@example.org")
			if v.Action != tt.action {
				t.Fatalf("action = %v, want %v", v.Action, tt.action)
			}
			if v.Reply.Text != tt.reply {
				t.Errorf("reply = %q, want %q", v.Reply.Text, tt.reply)
			}
			if got := tx.Total(); got != tt.wantScore {
				t.Errorf("score = %v, want %v", got, tt.wantScore)
			}
		})
	}
}

// TestNothingRunsAfterReject: the worker running a phase's checks stops at
// the first reject, and a worker left with a check deaf to its deadline
// runs nothing after it; the next check runs once, on another worker.
func TestNothingRunsAfterReject(t *testing.T) {
	var after, next atomic.Int32
	ch := NewChain(ChainConfig{Filters: []Filter{check{name: "r", v: rejectA}, check{name: "s", v: scoreTwo, ran: &after}}, Timeout: 50 * time.Millisecond})
	if v := ch.Rcpt(context.Background(), NewTransaction(&ClientConn{}, "Q1"), "u@example.org"); v.Action != Reject {
		t.Fatalf("action = %v, want reject", v.Action)
	}
	ch = NewChain(ChainConfig{Filters: []Filter{check{name: "deaf", sleep: 200 * time.Millisecond, deaf: true}, check{name: "s", v: scoreTwo, ran: &next}}, Timeout: 50 * time.Millisecond})
	tx := NewTransaction(&ClientConn{}, "Q2")
	ch.Rcpt(context.Background(), tx, "u@example.org")
	time.Sleep(300 * time.Millisecond) // the deaf check has returned to its worker
	if n := after.Load(); n != 0 {
		t.Errorf("a check after the reject ran %d times", n)
	}
	if n := next.Load(); n != 1 || tx.Total() != 2 {
		t.Errorf("the check after the deaf one ran %d times, score %v; want once, 2", n, tx.Total())
	}
}

func TestDataPolicy(t *testing.T) {
	pol := Policy{Tag: 5, Quarantine: 10, Reject: 15}
	tests := []struct {
		name    string
		checks  []check
		allow   bool
		action  Action
		tag     bool
		status  string
		flagged bool
	}{
		{"clean", []check{{name: "s", v: scoreTwo}}, false, Continue, false, "No, score=2.0 required=5.0 tests=TWO=2.0", false},
		{"tagged", []check{{name: "s", v: Scored("SIX", 6, "")}}, false, Continue, true, "Yes, score=6.0 required=5.0 tests=SIX=6.0", true},
		{"quarantined", []check{{name: "s", v: Scored("TEN", 10, "")}}, false, Quarantine, true, "Yes, score=10.0 required=5.0 tests=TEN=10.0", true},
		{"rejected by score", []check{{name: "s", v: Scored("GTUBE", 1000, "")}}, false, Reject, true, "Yes, score=1000.0 required=5.0 tests=GTUBE=1000.0", true},
		{"a check's reject stands below the threshold", []check{{name: "r", v: rejectA}}, false, Reject, false, "No, score=0.0 required=5.0 tests=none", false},
		{"a check's quarantine stands below the threshold", []check{{name: "h", v: holdA}}, false, Quarantine, false, "No, score=0.0 required=5.0 tests=none", false},
		{"allow-listed skips scoring", []check{{name: "s", v: Scored("GTUBE", 1000, "")}}, true, Continue, false, "No, score=1000.0 required=5.0 tests=ALLOW_LISTED,GTUBE=1000.0", false},
		{"allow-listed still honours a check's reject", []check{{name: "r", v: rejectA}}, true, Reject, false, "No, score=0.0 required=5.0 tests=ALLOW_LISTED", false},
		{"tests summed and sorted", []check{{name: "b", v: Scored("B", 1, "")}, {name: "a", v: Scored("A", 0.5, "")}, {name: "b2", v: Scored("B", 1, "")}}, false, Continue, false, "No, score=2.5 required=5.0 tests=A=0.5,B=2.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fs []Filter
			for _, c := range tt.checks {
				fs = append(fs, c)
			}
			ch := NewChain(ChainConfig{Filters: fs, Policy: pol})
			conn := &ClientConn{}
			conn.SetAllowListed(tt.allow)
			tx := NewTransaction(conn, "Q2")
			out := ch.Data(context.Background(), tx, NewMessage([]byte("From: a@b\r\n\r\nhi\r\n")))
			if out.Verdict.Action != tt.action {
				t.Fatalf("action = %v, want %v", out.Verdict.Action, tt.action)
			}
			if out.Tag != tt.tag {
				t.Errorf("tag = %v, want %v", out.Tag, tt.tag)
			}
			if got := out.Headers[0]; got.Name != "X-Spam-Status" || got.Value != tt.status {
				t.Errorf("status = %s: %q, want %q", got.Name, got.Value, tt.status)
			}
			flagged := len(out.Headers) > 1 && out.Headers[1].Name == "X-Spam-Flag" && out.Headers[1].Value == "YES"
			if flagged != tt.flagged {
				t.Errorf("X-Spam-Flag present = %v, want %v", flagged, tt.flagged)
			}
			if tt.action == Reject && tt.name == "rejected by score" {
				r := out.Verdict.Reply
				if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.Contains(r.Text, "GTUBE") {
					t.Errorf("reply = %v, want 550 5.7.1 naming GTUBE", r)
				}
			}
		})
	}
}

func TestConnScoresCarryIntoTransactions(t *testing.T) {
	c := connScorer{}
	ch := NewChain(ChainConfig{Filters: []Filter{c}})
	conn := &ClientConn{}
	ch.Connect(context.Background(), conn)
	for i := 0; i < 2; i++ {
		tx := NewTransaction(conn, "Q")
		ch.Mail(context.Background(), tx)
		if got := tx.Total(); got != 1.5 {
			t.Fatalf("transaction %d score = %v, want 1.5 from connect", i, got)
		}
	}
}

type connScorer struct{}

func (connScorer) Name() string { return "conn" }
func (connScorer) CheckConnect(ctx context.Context, c *ClientConn) Verdict {
	return Scored("CONN", 1.5, "")
}

func TestAddedAndStrippedHeaders(t *testing.T) {
	tx := NewTransaction(&ClientConn{}, "Q")
	tx.AddHeader("Authentication-Results", "mx.example.org; spf=pass")
	tx.StripHeaders(func(name, value string) bool { return strings.EqualFold(name, "Authentication-Results") })
	ch := NewChain(ChainConfig{Policy: Policy{Tag: 5}})
	out := ch.Data(context.Background(), tx, NewMessage([]byte("From: a@b\r\n\r\n")))
	if len(out.Headers) != 2 || out.Headers[1].Name != "Authentication-Results" {
		t.Fatalf("headers = %+v, want X-Spam-Status then Authentication-Results", out.Headers)
	}
	if !tx.Stripped("authentication-results", "x") || tx.Stripped("Received", "x") {
		t.Fatal("strip matcher not applied as asked")
	}
}
