package proxy

import (
	"context"
	"sync"
	"time"

	"mailguard/relay"
)

// capsCache remembers whether the backend offers SMTPUTF8, so the proxy
// offers it only when the backend can take it. It is asked at startup,
// refreshed in the background when older than capsMaxAge, and updated by
// every backend connection a transaction opens.
type capsCache struct {
	mu      sync.Mutex
	known   bool
	utf8    bool
	at      time.Time
	probing bool
}

// smtputf8 reports the last known answer (false when unknown) and starts a
// background probe when the answer is missing or old.
func (c *capsCache) smtputf8(p *Proxy) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if (!c.known || time.Since(c.at) > capsMaxAge) && !c.probing {
		c.probing = true
		go c.refresh(p, 30*time.Second)
	}
	return c.utf8
}

func (c *capsCache) set(utf8 bool) {
	c.mu.Lock()
	c.known, c.utf8, c.at = true, utf8, time.Now()
	c.mu.Unlock()
}

// forget drops the answer, so the next connection asks again.
func (c *capsCache) forget() {
	c.mu.Lock()
	c.known, c.utf8 = false, false
	c.mu.Unlock()
}

// refresh asks the backend's EHLO now, for at most limit.
func (c *capsCache) refresh(p *Proxy, limit time.Duration) {
	defer func() { c.mu.Lock(); c.probing = false; c.mu.Unlock() }()
	cfg := p.gen.Load().cfg
	ctx, cancel := context.WithTimeout(p.ctx, min(cfg.BackendTimeout, limit))
	defer cancel()
	cl, err := relay.Dial(ctx, relay.Config{Addr: cfg.Backend, Hostname: cfg.Hostname, Timeout: cfg.BackendTimeout})
	if err != nil {
		p.log.Warn("backend EHLO probe failed; not offering SMTPUTF8 until it answers", "backend", cfg.Backend, "err", err)
		return
	}
	ok, _ := cl.Extension("SMTPUTF8")
	cl.Close()
	c.set(ok)
	p.log.Debug("backend EHLO probed", "backend", cfg.Backend, "smtputf8", ok)
}
