package redisconn

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mailguard/internal/testutil/logbuf"
	"mailguard/internal/testutil/redistest"
)

// Outage tells a Redis that does not serve from one that answers a
// command with an error, on the errors a real server and client give.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb, err := OpenQuick(srv.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Set(ctx, "str", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	// A replica refuses writes (READONLY), as a former master does after
	// a Sentinel failover.
	replica := redistest.Start(t)
	rrep, _ := OpenQuick(replica.URL(0))
	defer rrep.Close()
	host, port, _ := strings.Cut(srv.Addr, ":")
	if err := rrep.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	// A user the ACL allows GET only.
	if err := rdb.Do(ctx, "ACL", "SETUSER", "reader", "on", ">pw", "~*", "+get").Err(); err != nil {
		t.Fatal(err)
	}
	reader, _ := OpenQuick("redis://reader:pw@" + srv.Addr + "/0")
	defer reader.Close()
	wrongPass, _ := OpenQuick("redis://reader:nope@" + srv.Addr + "/0")
	defer wrongPass.Close()
	closed, _ := OpenQuick(srv.URL(0))
	closed.Close()

	cases := []struct {
		name   string
		call   func() error
		outage bool
	}{
		{"success", func() error { return rdb.Get(ctx, "str").Err() }, false},
		{"absent key (redis.Nil)", func() error { return rdb.Get(ctx, "absent").Err() }, false},
		{"WRONGTYPE", func() error { return rdb.HGet(ctx, "str", "f").Err() }, false},
		{"NOSCRIPT", func() error { return rdb.EvalSha(ctx, strings.Repeat("0", 40), nil).Err() }, false},
		{"a script's error", func() error { return rdb.Eval(ctx, "return redis.error_reply('boom')", nil).Err() }, false},
		{"NOPERM", func() error { return reader.Set(ctx, "str", "y", 0).Err() }, false},
		{"READONLY", func() error { return rrep.Set(ctx, "k", "v", 0).Err() }, true},
		{"WRONGPASS", func() error { return wrongPass.Get(ctx, "str").Err() }, true},
		{"closed client", func() error { return closed.Get(ctx, "str").Err() }, true},
		{"wrapped", func() error { return errors.Join(errors.New("token store"), rdb.HGet(ctx, "str", "f").Err()) }, false},
	}
	for _, c := range cases {
		err := c.call()
		if got := Outage(err); got != c.outage {
			t.Errorf("%s: Outage(%v) = %v, want %v", c.name, err, got, c.outage)
		}
	}

	// A server that hangs (timeout) and one that is gone (refused).
	srv.Pause()
	err = rdb.Get(ctx, "str").Err()
	srv.Resume()
	if !Outage(err) {
		t.Errorf("hung server: Outage(%v) = false, want true", err)
	}
	srv.Stop()
	if err := rdb.Get(ctx, "str").Err(); !Outage(err) {
		t.Errorf("stopped server: Outage(%v) = false, want true", err)
	}
}

// A breaker lets calls through while Redis answers, even with errors of
// its own; once Redis hangs it lets one call wait for it, then holds the
// others back with ErrDown until a probe is due; a probe that times out
// keeps it open, one that gets any answer closes it. An outage is logged
// once at its start and once at its end, with a debug line per failed
// probe.
func TestBreaker(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := OpenQuick(srv.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "str", "x", time.Minute)
	log := &logbuf.Buffer{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBreaker(BreakerConfig{What: "test store", Where: srv.URL(0), Failing: "going on without it",
		Interval: time.Minute, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	asked := 0
	get := func() error {
		if err := b.Allow("get"); err != nil {
			return err
		}
		asked++
		err := rdb.Get(ctx, "str").Err()
		b.Done(ctx, "get", err)
		return err
	}
	wrongType := func() error {
		if err := b.Allow("hget"); err != nil {
			return err
		}
		asked++
		err := rdb.HGet(ctx, "str", "f").Err()
		b.Done(ctx, "hget", err)
		return err
	}
	lines := func(s string) int { return strings.Count(log.String(), s) }

	// Replies that are errors do not open it.
	for range 3 {
		if err := wrongType(); err == nil || errors.Is(err, ErrDown) {
			t.Fatalf("WRONGTYPE call: %v, want Redis's reply", err)
		}
	}
	if err := get(); err != nil {
		t.Fatalf("get: %v", err)
	}
	if asked != 4 || lines("test store failed") != 0 {
		t.Fatalf("%d calls asked Redis, want 4; log:\n%s", asked, log)
	}

	srv.Pause()
	asked = 0
	if err := get(); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("first call with Redis hung: %v, want its timeout", err)
	}
	for i := range 5 {
		if err := get(); !errors.Is(err, ErrDown) {
			t.Fatalf("call %d with the breaker open: %v, want ErrDown", i, err)
		}
	}
	if asked != 1 {
		t.Errorf("%d calls waited for a hung Redis, want 1", asked)
	}
	// A failed probe: one call asks, the next does not.
	now = now.Add(time.Minute)
	if err := get(); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("probe with Redis hung: %v, want its timeout", err)
	}
	if err := get(); !errors.Is(err, ErrDown) {
		t.Fatalf("call after a failed probe: %v, want ErrDown", err)
	}
	if asked != 2 || lines("test store probe: still failing") != 1 {
		t.Errorf("%d calls asked, want 2 (one probe); log:\n%s", asked, log)
	}
	srv.Resume()
	if err := get(); !errors.Is(err, ErrDown) {
		t.Fatalf("Redis answers but no probe is due: %v, want ErrDown", err)
	}
	// The probe finds Redis answering, with an error reply: that closes
	// it too.
	now = now.Add(time.Minute)
	if err := wrongType(); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("probe with Redis back: %v, want its WRONGTYPE reply", err)
	}
	if err := get(); err != nil {
		t.Fatalf("call with the breaker closed: %v", err)
	}
	if n := lines("test store failed: going on without it"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, log)
	}
	if n := lines("test store answers again"); n != 1 {
		t.Errorf("%d lines for the end of the outage, want 1:\n%s", n, log)
	}
}

// A call its caller gave up on neither opens the breaker nor closes it.
func TestBreakerIgnoresCallerGone(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log := &logbuf.Buffer{}
	b := NewBreaker(BreakerConfig{What: "test store", Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(log, nil))})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	b.Done(gone, "get", context.Canceled)
	if err := b.Allow("get"); err != nil {
		t.Fatalf("after a call its caller gave up on: %v, want closed", err)
	}
	b.Done(context.Background(), "get", redis.ErrClosed)
	if err := b.Allow("get"); !errors.Is(err, ErrDown) {
		t.Fatalf("after an outage: %v, want ErrDown", err)
	}
	now = now.Add(DefaultProbeInterval)
	if err := b.Allow("get"); err != nil {
		t.Fatalf("probe due after DefaultProbeInterval: %v", err)
	}
	b.Done(gone, "get", context.Canceled)
	if err := b.Allow("get"); !errors.Is(err, ErrDown) {
		t.Fatalf("after a probe its caller gave up on: %v, want still open", err)
	}
	if strings.Contains(log.String(), "answers again") {
		t.Errorf("a call its caller gave up on ended the outage:\n%s", log)
	}
}
