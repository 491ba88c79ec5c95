package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"mailguard/classifier"
	"mailguard/classifier/storetest"
	"mailguard/internal/testutil/redistest"
	"mailguard/redisconn"
)

// prefix gives each test its own keys on the shared server.
func prefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return redisconn.Prefix + "t" + hex.EncodeToString(b) + ":"
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness(redistest.Start(t).URL(0)))
}

// The same suite through a Sentinel and on a Cluster: the store URL's
// other two forms.
func TestConformanceSentinel(t *testing.T) {
	storetest.Run(t, harness(redistest.StartSentinel(t).URL(0)))
}

func TestConformanceCluster(t *testing.T) {
	storetest.Run(t, harness(redistest.StartCluster(t).URL()))
}

func harness(url string) storetest.Harness {
	return storetest.Harness{
		Open: func(t *testing.T) classifier.Store {
			st, err := Open(Config{URL: url, Prefix: prefix()})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Reopen: func(t *testing.T, st classifier.Store) classifier.Store {
			p := st.(*Store).kSpam
			p = p[:len(p)-len("spam")]
			st.Close()
			st2, err := Open(Config{URL: url, Prefix: p})
			if err != nil {
				t.Fatal(err)
			}
			return st2
		},
	}
}

// Over its cap the token set is pruned to 90% of it, hapaxes and the
// least recently learnt first, as the embedded store does.
func TestPrune(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix(), MaxTokens: 10, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	// "common" is in two messages: no hapax, kept.
	st.Learn(ctx, classifier.Doc{Digest: "a", Spam: true, Tokens: []string{"common", "old1", "old2"}},
		classifier.Doc{Digest: "b", Spam: true, Tokens: []string{"common"}})
	now = now.Add(48 * time.Hour)
	var toks []string
	for i := range 9 {
		toks = append(toks, fmt.Sprint("new", i))
	}
	if _, err := st.Learn(ctx, classifier.Doc{Digest: "c", Tokens: toks}); err != nil {
		t.Fatal(err)
	}
	// 12 tokens over a cap of 10: pruned to 9.
	n, err := st.Tokens(ctx)
	if err != nil || n != 9 {
		t.Fatalf("Tokens = %d, %v; want 90%% of the cap, 9", n, err)
	}
	got, _, _ := st.Counts(ctx, append([]string{"common", "old1", "old2"}, toks...))
	if got[0].Spam != 2 || got[1] != (classifier.Counts{}) || got[2] != (classifier.Counts{}) {
		t.Errorf("after pruning: %+v; want common kept, the old hapaxes gone", got[:3])
	}
	kept := 0
	for _, c := range got[3:] {
		if c.Ham == 1 {
			kept++
		}
	}
	if kept != 8 {
		t.Errorf("%d of the 9 new hapaxes kept, want 8", kept)
	}
}

// A dead Redis is an error, not a hang or a zero answer.
func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Learn(ctx, classifier.Doc{Digest: "a", Spam: true, Tokens: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, _, err := st.Counts(ctx, []string{"x"}); err == nil {
		t.Error("Counts with Redis down succeeded")
	}
	srv.Restart(t)
	// Reconnected by itself; the restarted server is empty.
	if _, err := st.Learn(ctx, classifier.Doc{Digest: "a", Spam: true, Tokens: []string{"x"}}); err != nil {
		t.Fatalf("Learn after restart: %v", err)
	}
	got, tot, err := st.Counts(ctx, []string{"x"})
	if err != nil || got[0].Spam != 1 || tot.Spam != 1 {
		t.Errorf("after restart: %+v %+v %v", got, tot, err)
	}
}
