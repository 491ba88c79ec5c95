package quarantine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"mailguard/internal/testutil/redistest"
	"mailguard/quarantine"
	"mailguard/quarantine/storetest"
	"mailguard/redisconn"
)

func redisPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return redisconn.Prefix + "t" + hex.EncodeToString(b) + ":"
}

func TestRedis(t *testing.T) {
	storetest.Run(t, openRedis(redistest.Start(t).URL(0)))
}

// The same suite through a Sentinel and on a Cluster: the store URL's
// other two forms.
func TestRedisSentinel(t *testing.T) {
	storetest.Run(t, openRedis(redistest.StartSentinel(t).URL(0)))
}

func TestRedisCluster(t *testing.T) {
	storetest.Run(t, openRedis(redistest.StartCluster(t).URL()))
}

func openRedis(url string) func(t *testing.T) quarantine.Store {
	return func(t *testing.T) quarantine.Store {
		s, err := quarantine.OpenRedis(url, redisPrefix())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// openPair opens two stores on srv under one prefix, as two gateways
// sharing a Redis do.
func openPair(t *testing.T, srv *redistest.Server) (a, b *quarantine.Redis) {
	t.Helper()
	p := redisPrefix()
	a, err := quarantine.OpenRedis(srv.URL(0), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = quarantine.OpenRedis(srv.URL(0), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// Two processes sharing a Redis see one quarantine: what one holds the
// other lists, locks and deletes; the journal is shared too.
func TestRedisShared(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openPair(t, srv)
	ctx := context.Background()
	e, err := a.Put(ctx, quarantine.Entry{Rcpts: []string{"x@example.org"}}, bytes.NewReader([]byte("Subject: hi\r\n\r\nx\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.List(ctx)
	if err != nil || len(l) != 1 || l[0].ID != e.ID || l[0].Subject != "hi" {
		t.Fatalf("B lists %+v, %v", l, err)
	}
	unlock, err := a.Lock(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(e.ID); !errors.Is(err, quarantine.ErrLocked) {
		t.Errorf("second lock: %v, want ErrLocked", err)
	}
	unlock()
	if u, err := b.Lock(e.ID); err != nil {
		t.Errorf("lock after unlock: %v", err)
	} else {
		u()
	}
	evs, err := b.Events(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(evs) != 1 || evs[0].ID != e.ID || evs[0].Kind != quarantine.EventHeld {
		t.Errorf("B's journal: %+v %v", evs, err)
	}
	if err := b.Delete(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Get(ctx, e.ID); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("A gets a deleted entry: %v", err)
	}
}

// With Redis down Put fails (the front end answers 451) and stores
// nothing; once Redis is back the store works again by itself.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	s, err := quarantine.OpenRedis(srv.URL(0), redisPrefix())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	srv.Stop()
	if _, err := s.Put(ctx, quarantine.Entry{}, bytes.NewReader([]byte("Subject: x\r\n\r\nx\r\n"))); err == nil {
		t.Fatal("Put with Redis down succeeded")
	}
	srv.Restart(t)
	e, err := s.Put(ctx, quarantine.Entry{}, bytes.NewReader([]byte("Subject: x\r\n\r\nx\r\n")))
	if err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	if l, err := s.List(ctx); err != nil || len(l) != 1 || l[0].ID != e.ID {
		t.Errorf("List after restart: %+v %v", l, err)
	}
}

// pauseAtEOF is a message that stops Redis (SIGSTOP) when Put has read it
// all, that is once its chunks are in Redis and before the entry is
// committed.
type pauseAtEOF struct {
	r     io.Reader
	pause func()
	once  sync.Once
}

func (p *pauseAtEOF) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if errors.Is(err, io.EOF) {
		p.once.Do(p.pause)
	}
	return n, err
}

// A commit Redis runs but never answers (it hangs with the script in its
// socket, the client times out and gives up): the client is told 451 and
// sends the message again, so the entry that landed must not stay, or it
// is held twice. The next List (or Put) through the same store removes it,
// and only it.
func TestRedisCommitUnanswered(t *testing.T) {
	srv := redistest.Start(t)
	a, b := openPair(t, srv)
	ctx := context.Background()
	kept, err := a.Put(ctx, quarantine.Entry{ID: "KEPT1"}, bytes.NewReader([]byte("Subject: kept\r\n\r\nx\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	// Exactly one chunk: its RPUSH is answered before the reader says EOF.
	msg := append([]byte("Subject: unanswered\r\n\r\n"), bytes.Repeat([]byte("x"), 256<<10-23)...)
	if _, err := a.Put(ctx, quarantine.Entry{ID: "DOUBT1"}, &pauseAtEOF{r: bytes.NewReader(msg), pause: srv.Pause}); err == nil {
		t.Fatal("Put whose commit Redis never answered succeeded")
	}
	srv.Resume()
	// Redis runs the script it held once it continues: the entry is
	// there, as another instance sees.
	landed := false
	for range 100 {
		if _, _, err := b.Get(ctx, "DOUBT1"); err == nil {
			landed = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !landed {
		t.Fatal("the unanswered commit did not land once Redis continued: the case under test did not happen")
	}
	l, err := a.List(ctx)
	if err != nil || len(l) != 1 || l[0].ID != kept.ID {
		t.Errorf("List after the unanswered commit: %+v %v, want only %s", l, err, kept.ID)
	}
	if _, _, err := b.Get(ctx, "DOUBT1"); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("the entry its client was told 451 for is still held: %v", err)
	}
	// The client sends it again and it is held once.
	if _, err := a.Put(ctx, quarantine.Entry{ID: "AGAIN1"}, bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if l, err := b.List(ctx); err != nil || len(l) != 2 {
		t.Errorf("after the message was sent again B lists %d entries (%v), want 2", len(l), err)
	}
}
