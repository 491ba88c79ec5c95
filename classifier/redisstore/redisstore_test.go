package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// A fail-fast store (the gateway's) whose Redis hangs asks it once, then
// answers ErrDown without asking until a probe is due; a probe that finds
// Redis answering closes the breaker. The outage is logged once, and its
// end once. Learning, patient, is not held back.
func TestFailFastBreaker(t *testing.T) {
	srv := redistest.Start(t)
	var logBuf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix(), FailFast: true, ProbeInterval: time.Minute,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Learn(ctx, classifier.Doc{Digest: "a", Spam: true, Tokens: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	// The first read goes to Redis and times out.
	if _, _, err := st.Counts(ctx, []string{"x"}); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("first Counts with Redis hung: %v, want Redis's timeout", err)
	}
	// The next ones do not ask it.
	for i := range 3 {
		if _, _, err := st.Counts(ctx, []string{"x"}); !errors.Is(err, ErrDown) {
			t.Fatalf("Counts %d with the breaker open: %v, want ErrDown", i, err)
		}
	}
	if _, err := st.Totals(ctx); !errors.Is(err, ErrDown) {
		t.Errorf("Totals with the breaker open: %v, want ErrDown", err)
	}
	if _, err := st.Tokens(ctx); !errors.Is(err, ErrDown) {
		t.Errorf("Tokens with the breaker open: %v, want ErrDown", err)
	}
	// A probe due while Redis still hangs: one read asks, the next not.
	now = now.Add(time.Minute)
	if _, _, err := st.Counts(ctx, []string{"x"}); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("probe with Redis hung: %v, want Redis's timeout", err)
	}
	if _, _, err := st.Counts(ctx, []string{"x"}); !errors.Is(err, ErrDown) {
		t.Fatalf("Counts after a failed probe: %v, want ErrDown", err)
	}
	srv.Resume()
	// Redis answers again, but no probe is due yet.
	if _, _, err := st.Counts(ctx, []string{"x"}); !errors.Is(err, ErrDown) {
		t.Fatalf("Counts before the next probe: %v, want ErrDown", err)
	}
	now = now.Add(time.Minute)
	got, tot, err := st.Counts(ctx, []string{"x"})
	if err != nil || got[0].Spam != 1 || tot.Spam != 1 {
		t.Fatalf("probe with Redis back: %+v %+v %v", got, tot, err)
	}
	if _, err := st.Totals(ctx); err != nil {
		t.Errorf("Totals with the breaker closed: %v", err)
	}
	log := logBuf.String()
	if n := strings.Count(log, "token store failed"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, "token store answers again"); n != 1 {
		t.Errorf("%d lines for the end of the outage, want 1:\n%s", n, log)
	}
}

// Without FailFast (train, classify, store copy) the store asks Redis on
// every call: a command-line run waits for a slow Redis rather than give
// up on it.
func TestPatientHasNoBreaker(t *testing.T) {
	srv := redistest.Start(t)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	srv.Stop()
	for i := range 2 {
		if _, _, err := st.Counts(ctx, []string{"x"}); err == nil || errors.Is(err, ErrDown) {
			t.Fatalf("Counts %d with Redis down: %v, want Redis's error", i, err)
		}
	}
	srv.Restart(t)
	if _, _, err := st.Counts(ctx, []string{"x"}); err != nil {
		t.Errorf("Counts after restart: %v", err)
	}
}
