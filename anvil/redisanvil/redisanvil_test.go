package redisanvil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Redis down: every call fails at once with an error (the callers fail
// open), the outage is logged once however many calls fail, each failed
// call is counted, and the store works again when Redis is back.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	log := &logbuf.Buffer{}
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix(), Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Incr(ctx, "k", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	before := testutil.ToFloat64(metrics.AnvilErrors.WithLabelValues("incr"))
	srv.Stop()
	for range 5 {
		if _, err := st.Incr(ctx, "k", 1, time.Hour); err == nil {
			t.Fatal("Incr with Redis down returned no error")
		}
	}
	if _, _, err := st.Get(ctx, "g"); err == nil {
		t.Fatal("Get with Redis down returned no error")
	}
	if n := strings.Count(log.String(), "anvil store failed"); n != 1 {
		t.Errorf("6 failed calls logged %d outage lines, want 1:\n%s", n, log)
	}
	if got := testutil.ToFloat64(metrics.AnvilErrors.WithLabelValues("incr")) - before; got != 5 {
		t.Errorf("mailguard_anvil_errors_total{op=incr} rose by %v, want 5", got)
	}
	srv.Restart(t)
	if n, err := st.Incr(ctx, "k", 1, time.Hour); err != nil || n != 1 {
		t.Fatalf("after the restart (empty Redis): Incr = %d, %v; want 1", n, err)
	}
	if !strings.Contains(log.String(), "anvil store answers again") {
		t.Errorf("the end of the outage is not logged:\n%s", log)
	}
}

// A Redis that hangs (stopped, its connections open): every call ends
// with an error after the client's timeouts instead of holding the
// connection that waits for it; once Redis answers again, so does the
// store.
func TestHungRedis(t *testing.T) {
	srv := redistest.Start(t)
	st, err := Open(Config{URL: srv.URL(0), Prefix: prefix(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Incr(ctx, "k", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	start := time.Now()
	if _, err := st.Incr(ctx, "k", 1, time.Hour); err == nil {
		t.Fatal("Incr on a hung Redis returned no error")
	}
	if _, _, err := st.Get(ctx, "g"); err == nil {
		t.Fatal("Get on a hung Redis returned no error")
	}
	t.Logf("two calls on a hung Redis took %v", time.Since(start))
	srv.Resume()
	if n, err := st.Incr(ctx, "k", 1, time.Hour); err != nil || n < 2 {
		t.Fatalf("after the hang: Incr = %d, %v", n, err)
	}
}
