package proxy

import (
	"sync"
	"time"

	"mailguard/relay"
)

// backendPool keeps a few idle backend connections between client sessions,
// so a session's MAIL FROM does not pay for a new connection, greeting and
// EHLO. A pooled connection the backend has closed meanwhile fails its
// first command; the session then dials afresh and says MAIL FROM again.
type backendPool struct {
	mu   sync.Mutex
	idle []pooled
	shut bool
}

type pooled struct {
	c     *relay.Client
	since time.Time
}

const (
	poolMax = 16
	// poolMaxIdle stays well under the idle timeout of MTAs (Postfix's
	// smtpd_timeout is 300s), so pooled connections are rarely stale.
	poolMaxIdle = 30 * time.Second
)

// get returns the most recently used idle connection, or nil.
func (bp *backendPool) get() *relay.Client {
	var stale []*relay.Client
	defer func() {
		for _, c := range stale {
			c.Close()
		}
	}()
	bp.mu.Lock()
	defer bp.mu.Unlock()
	for len(bp.idle) > 0 {
		p := bp.idle[len(bp.idle)-1]
		bp.idle = bp.idle[:len(bp.idle)-1]
		if time.Since(p.since) < poolMaxIdle {
			return p.c
		}
		stale = append(stale, p.c)
	}
	return nil
}

// put keeps c for another session, or closes it when the pool is full or
// shut.
func (bp *backendPool) put(c *relay.Client) {
	bp.mu.Lock()
	// A connection handed to a client with XCLIENT is that client's only.
	if bp.shut || len(bp.idle) >= poolMax || !c.Usable() || c.Impersonating() {
		bp.mu.Unlock()
		c.Close()
		return
	}
	// Drop connections that aged out, oldest first.
	var stale []*relay.Client
	for len(bp.idle) > 0 && time.Since(bp.idle[0].since) >= poolMaxIdle {
		stale = append(stale, bp.idle[0].c)
		bp.idle = bp.idle[1:]
	}
	bp.idle = append(bp.idle, pooled{c: c, since: time.Now()})
	bp.mu.Unlock()
	for _, s := range stale {
		s.Close()
	}
}

// close closes the idle connections and refuses new ones.
func (bp *backendPool) close() {
	bp.mu.Lock()
	bp.shut = true
	bp.mu.Unlock()
	bp.flush()
}

// flush closes the idle connections (the backend changed).
func (bp *backendPool) flush() {
	bp.mu.Lock()
	idle := bp.idle
	bp.idle = nil
	bp.mu.Unlock()
	for _, p := range idle {
		p.c.Close()
	}
}
