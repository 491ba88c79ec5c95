package classifier

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
)

const spamMsg = "From: deals@promo.example\r\nTo: you@example.org\r\nSubject: free offer\r\n\r\nClick here for a free offer, act now.\r\n"
const hamMsg = "From: boss@example.org\r\nTo: team@example.org\r\nSubject: meeting agenda\r\n\r\nThe meeting agenda and minutes are attached.\r\n"

// learnt returns a classifier over a store that learnt n variants of the
// spam and ham samples above.
func learnt(t *testing.T, n int) *Classifier {
	t.Helper()
	c := New(DefaultConfig(), NewMemStore())
	var docs []Doc
	for i := range n {
		s := strings.Replace(spamMsg, "act now", fmt.Sprintf("act now %d", i), 1)
		h := strings.Replace(hamMsg, "attached", fmt.Sprintf("attached %d", i), 1)
		docs = append(docs, Doc{Digest: Digest([]byte(s)), Spam: true, Tokens: Tokenize([]byte(s))},
			Doc{Digest: Digest([]byte(h)), Tokens: Tokenize([]byte(h))})
	}
	if _, err := c.Learn(context.Background(), docs...); err != nil {
		t.Fatal(err)
	}
	return c
}

// scorer adds fixed points at the end of DATA, standing for the other
// message checks.
type scorer float64

func (scorer) Name() string { return "scorer" }
func (s scorer) CheckMessage(context.Context, *filters.Transaction, *filters.Message) filters.Verdict {
	return filters.Scored("OTHER", float64(s), "test")
}

func runChain(t *testing.T, fs []filters.Filter, msg string, auth string) (filters.Outcome, *filters.Transaction) {
	t.Helper()
	chain := filters.NewChain(filters.ChainConfig{Filters: fs, Policy: filters.Policy{Tag: 5, Quarantine: 10, Reject: 100}})
	tx := filters.NewTransaction(&filters.ClientConn{AuthUser: auth}, "Q1")
	return chain.Data(context.Background(), tx, filters.NewMessage([]byte(msg))), tx
}

func status(out filters.Outcome) string {
	for _, h := range out.Headers {
		if h.Name == "X-Spam-Status" {
			return h.Value
		}
	}
	return ""
}

func TestFilterScores(t *testing.T) {
	c := learnt(t, 250)
	f := NewFilter(FilterConfig{Classifier: c})
	out, _ := runChain(t, []filters.Filter{f}, strings.Replace(spamMsg, "act now", "act now please", 1), "")
	// A near-certain spam reaches the quarantine threshold on its own.
	if s := status(out); !strings.Contains(s, "BAYES_999=10.0") || out.Verdict.Action != filters.Quarantine {
		t.Errorf("spam: X-Spam-Status %q, action %v, want BAYES_999=10.0 and quarantine", s, out.Verdict.Action)
	}
	out, _ = runChain(t, []filters.Filter{f}, hamMsg, "")
	if s := status(out); !strings.Contains(s, "BAYES_00=-3.0") {
		t.Errorf("ham: X-Spam-Status %q, want BAYES_00=-3.0", s)
	}
	// Weights are configurable.
	f2 := NewFilter(FilterConfig{Classifier: c, Weights: map[string]float64{"BAYES_999": 6}})
	out, _ = runChain(t, []filters.Filter{f2}, spamMsg, "")
	if s := status(out); !strings.Contains(s, "BAYES_999=6.0") || !strings.HasPrefix(s, "Yes") || out.Verdict.Action != filters.Continue {
		t.Errorf("weighted spam: X-Spam-Status %q, action %v, want Yes with BAYES_999=6.0, relayed", s, out.Verdict.Action)
	}
}

func TestFilterInactive(t *testing.T) {
	f := NewFilter(FilterConfig{Classifier: learnt(t, 10)})
	out, _ := runChain(t, []filters.Filter{f}, spamMsg, "")
	if s := status(out); !strings.Contains(s, TestInactive+"=0.0") || strings.Contains(s, "BAYES_9") {
		t.Errorf("X-Spam-Status %q, want %s=0.0 only", s, TestInactive)
	}
}

func TestFilterOpensLazily(t *testing.T) {
	calls := 0
	c := learnt(t, 250)
	f := NewFilter(FilterConfig{Open: func() (*Classifier, error) {
		calls++
		if calls == 1 {
			return nil, fmt.Errorf("database locked")
		}
		return c, nil
	}})
	out, _ := runChain(t, []filters.Filter{f}, spamMsg, "")
	if s := status(out); strings.Contains(s, "BAYES") {
		t.Errorf("unavailable store: X-Spam-Status %q, want no BAYES test", s)
	}
	out, _ = runChain(t, []filters.Filter{f}, spamMsg, "")
	if s := status(out); !strings.Contains(s, "BAYES_99") {
		t.Errorf("after the store opened: X-Spam-Status %q", s)
	}
	runChain(t, []filters.Filter{f}, spamMsg, "")
	if calls != 2 {
		t.Errorf("opened %d times, want 2 (once failing, once for good)", calls)
	}
}

func TestTestName(t *testing.T) {
	for p, want := range map[float64]string{0: "BAYES_00", 0.009: "BAYES_00", 0.01: "BAYES_05", 0.1: "BAYES_20",
		0.3: "BAYES_40", 0.5: "BAYES_50", 0.7: "BAYES_60", 0.9: "BAYES_80", 0.97: "BAYES_95", 0.99: "BAYES_99", 0.9989: "BAYES_99", 0.999: "BAYES_999", 1: "BAYES_999"} {
		if got := TestName(p); got != want {
			t.Errorf("TestName(%v) = %s, want %s", p, got, want)
		}
	}
}

// waitTotals polls until the store's totals are want: autolearning runs
// after the reply, in the background.
func waitTotals(t *testing.T, c *Classifier, want Totals) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		tot, _ := c.Store().Totals(context.Background())
		if tot == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("totals %+v, want %+v", tot, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAutolearn(t *testing.T) {
	c := learnt(t, 250)
	on := Autolearn{Enabled: true, SpamScore: 12, HamMaxScore: 0}
	novel := "From: x@new.example\r\nSubject: something new\r\n\r\nEntirely novel words here.\r\n"

	// Off by default: nothing is learnt, whatever the score.
	off := NewFilter(FilterConfig{Classifier: c})
	runChain(t, []filters.Filter{scorer(20), off}, novel, "")
	// The classifier's own verdict is not enough.
	f := NewFilter(FilterConfig{Classifier: c, Autolearn: on, Weights: map[string]float64{"BAYES_99": 50}})
	runChain(t, []filters.Filter{scorer(1), f}, spamMsg, "")
	// A plain sender with a middling score is not ham evidence either.
	runChain(t, []filters.Filter{f}, hamMsg+"x", "")
	waitTotals(t, c, Totals{Spam: 250, Ham: 250})

	// Overwhelming other evidence teaches spam.
	runChain(t, []filters.Filter{scorer(12), f}, novel, "")
	waitTotals(t, c, Totals{Spam: 251, Ham: 250})
	// An authenticated sender with a clean score teaches ham.
	runChain(t, []filters.Filter{f}, "From: me@example.org\r\nSubject: lunch\r\n\r\nLunch at noon?\r\n", "me")
	waitTotals(t, c, Totals{Spam: 251, Ham: 251})
	// GTUBE is a test, not mail.
	runChain(t, []filters.Filter{scorer(0), gtube{}, f}, "Subject: test\r\n\r\nanother body\r\n", "")
	time.Sleep(50 * time.Millisecond)
	waitTotals(t, c, Totals{Spam: 251, Ham: 251})
}

type gtube struct{}

func (gtube) Name() string { return "gtube" }
func (gtube) CheckMessage(context.Context, *filters.Transaction, *filters.Message) filters.Verdict {
	return filters.Scored("GTUBE", 1000, "test")
}
