package redisanvil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mailguard/anvil/anviltest"
	"mailguard/internal/testutil/logbuf"
	"mailguard/internal/testutil/redistest"
	"mailguard/metrics"
	"mailguard/redisconn"
)

// prefix gives each test its own keys on the shared server.
func prefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return redisconn.Prefix + "t" + hex.EncodeToString(b) + ":"
}

// harness runs the suite against the server a store URL names; Redis
// expires keys by its own clock, so time passes by sleeping.
func harness(url string) anviltest.Harness {
	return anviltest.Harness{
		Open: func(t *testing.T) anviltest.Store {
			st, err := Open(Config{URL: url, Prefix: prefix()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		Advance: func(t *testing.T, _ anviltest.Store, d time.Duration) { time.Sleep(d) },
	}
}

func TestConformance(t *testing.T) {
	anviltest.Run(t, harness(redistest.Start(t).URL(0)))
}

// The same suite through a Sentinel and on a Cluster: the store URL's
// other two forms.
func TestConformanceSentinel(t *testing.T) {
	anviltest.Run(t, harness(redistest.StartSentinel(t).URL(0)))
}

func TestConformanceCluster(t *testing.T) {
	anviltest.Run(t, harness(redistest.StartCluster(t).URL()))
}

// Every key the store writes expires: a flood of new clients cannot grow
// Redis without bound.
func TestKeysExpire(t *testing.T) {
	srv := redistest.Start(t)
	p := prefix()
	st, err := Open(Config{URL: srv.URL(0), Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.Incr(ctx, "conn:192.0.2.1", 1, time.Minute)
	st.Incr(ctx, "conn:192.0.2.1", 1, time.Hour) // a later event does not move the window
	st.Set(ctx, "greet:192.0.2.1", time.Now(), 24*time.Hour)
	st.SetValue(ctx, "callout:x", []byte("ok"), time.Hour)
	rdb, _ := redisconn.Open(srv.URL(0))
	defer rdb.Close()
	for key, most := range map[string]time.Duration{"n:conn:192.0.2.1": time.Minute, "t:greet:192.0.2.1": 24 * time.Hour, "v:callout:x": time.Hour} {
		ttl, err := rdb.PTTL(ctx, p+key).Result()
		if err != nil || ttl <= 0 || ttl > most {
			t.Errorf("%s: PTTL %v, %v; want an expiry of at most %v", key, ttl, err, most)
		}
	}
}

// openClocked opens a store on srv that logs to h and probes a minute
// after a failure as *now says, and counts "k" once, Redis being up.
func openClocked(t *testing.T, srv *redistest.Server, h slog.Handler, now *time.Time) *Store {
	t.Helper()
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix(), Log: slog.New(h),
		ProbeInterval: time.Minute, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Incr(context.Background(), "k", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	return st
}

// Redis down: the first call fails with Redis's error and the breaker
// holds the next ones back (the callers fail open); the outage is logged
// once however many calls fail, each failed call is counted, and the
// store works again at the first probe after Redis is back.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	log := &logbuf.Buffer{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := openClocked(t, srv, slog.NewTextHandler(log, nil), &now)
	ctx := context.Background()
	before := testutil.ToFloat64(metrics.AnvilErrors.WithLabelValues("incr"))
	srv.Stop()
	if _, err := st.Incr(ctx, "k", 1, time.Hour); err == nil || errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("first Incr with Redis down: %v, want Redis's error", err)
	}
	for range 4 {
		if _, err := st.Incr(ctx, "k", 1, time.Hour); !errors.Is(err, redisconn.ErrDown) {
			t.Fatalf("Incr with the breaker open: %v, want ErrDown", err)
		}
	}
	if _, _, err := st.Get(ctx, "g"); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Get with the breaker open: %v, want ErrDown", err)
	}
	if err := st.SetValue(ctx, "v", []byte("x"), time.Hour); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("SetValue with the breaker open: %v, want ErrDown", err)
	}
	if n := strings.Count(log.String(), "anvil store failed"); n != 1 {
		t.Errorf("7 failed calls logged %d outage lines, want 1:\n%s", n, log)
	}
	if got := testutil.ToFloat64(metrics.AnvilErrors.WithLabelValues("incr")) - before; got != 5 {
		t.Errorf("mailguard_anvil_errors_total{op=incr} rose by %v, want 5", got)
	}
	srv.Restart(t)
	if _, err := st.Incr(ctx, "k", 1, time.Hour); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Redis back, no probe due yet: %v, want ErrDown", err)
	}
	now = now.Add(time.Minute)
	if n, err := st.Incr(ctx, "k", 1, time.Hour); err != nil || n != 1 {
		t.Fatalf("the probe after the restart (empty Redis): Incr = %d, %v; want 1", n, err)
	}
	if n := strings.Count(log.String(), "anvil store answers again"); n != 1 {
		t.Errorf("%d lines for the end of the outage, want 1:\n%s", n, log)
	}
}

// A Redis that hangs (stopped, its connections open): the first call ends
// with an error after the client's timeouts instead of holding the
// connection that waits for it, and the calls after it do not wait at
// all; a probe that times out keeps them from waiting, and the first
// probe after Redis continues brings the store back.
func TestHungRedis(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := openClocked(t, srv, slog.DiscardHandler, &now)
	ctx := context.Background()
	srv.Pause()
	if _, err := st.Incr(ctx, "k", 1, time.Hour); err == nil || errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Incr on a hung Redis: %v, want its timeout", err)
	}
	// A session's other calls (pregreet, greylisting) are not sent.
	if _, _, err := st.Get(ctx, "g"); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Get after the first timeout: %v, want ErrDown", err)
	}
	if err := st.Set(ctx, "g", now, time.Hour); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Set after the first timeout: %v, want ErrDown", err)
	}
	now = now.Add(time.Minute)
	if _, _, err := st.Get(ctx, "g"); err == nil || errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("probe on a hung Redis: %v, want its timeout", err)
	}
	if _, err := st.Incr(ctx, "k", 1, time.Hour); !errors.Is(err, redisconn.ErrDown) {
		t.Fatalf("Incr after a failed probe: %v, want ErrDown", err)
	}
	srv.Resume()
	now = now.Add(time.Minute)
	if n, err := st.Incr(ctx, "k", 1, time.Hour); err != nil || n < 2 {
		t.Fatalf("after the hang: Incr = %d, %v", n, err)
	}
}

// An error reply (a key of the wrong type, written by something else) is
// Redis answering: the call fails, the run of such replies is logged
// once, and the breaker stays closed, so other keys work on.
func TestErrorReplyIsNoOutage(t *testing.T) {
	srv := redistest.Start(t)
	log := &logbuf.Buffer{}
	p := prefix()
	st, err := Open(Config{URL: srv.URL(0), Prefix: p, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	rdb, _ := redisconn.Open(srv.URL(0))
	defer rdb.Close()
	if err := rdb.HSet(ctx, p+"t:grey:x", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := st.Get(ctx, "grey:x"); err == nil || errors.Is(err, redisconn.ErrDown) {
			t.Fatalf("Get of a hash: %v, want WRONGTYPE", err)
		}
	}
	if n, err := st.Incr(ctx, "conn:192.0.2.1", 1, time.Hour); err != nil || n != 1 {
		t.Fatalf("Incr after error replies: %d, %v; want 1", n, err)
	}
	if n := strings.Count(log.String(), "anvil store refused a command"); n != 1 {
		t.Errorf("%d lines for 3 error replies, want 1:\n%s", n, log)
	}
	if strings.Contains(log.String(), "anvil store failed") {
		t.Errorf("an error reply was logged as an outage:\n%s", log)
	}
}
