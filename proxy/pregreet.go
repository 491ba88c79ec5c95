package proxy

// The pregreet test, as Postfix's postscreen does it: the banner's first
// line ("220-") goes out at once and its last after Abuse.GreetDelay. A
// client that follows RFC 5321 waits for the last line; spam software that
// talks first is caught. A client that passed is remembered for
// Abuse.GreetTTL and greeted at once.

import (
	"io"
	"strconv"
	"time"

	"mailguard/filters"
	"mailguard/maillog"
	"mailguard/metrics"
)

// greeting is a pregreet test in progress; the zero value is none.
type greeting struct {
	until time.Time
}

// passedGreet reports whether c need not take the test: it is off, c is
// exempt, or c passed it within GreetTTL.
func (p *Proxy) passedGreet(c *clientConn) bool {
	a := &c.cfg.Abuse
	if a.GreetDelay <= 0 || c.exempt {
		return true
	}
	_, ok, _ := a.Store.Get(p.ctx, greetKey(c))
	return ok
}

// startGreet sends the banner's first line when c takes the test.
func (p *Proxy) startGreet(c *clientConn) greeting {
	if c.passed {
		return greeting{}
	}
	c.setGreeting(true)
	c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, firstLine(filters.ReplyGreetingFirstLine.Format(c.cfg.Hostname))); err != nil {
		c.setGreeting(false)
		return greeting{}
	}
	return greeting{until: time.Now().Add(c.cfg.Abuse.GreetDelay)}
}

// finishGreet waits out the delay and reports whether c passed; a client
// that talked is told 554 5.5.1 and dropped.
func (p *Proxy) finishGreet(c *clientConn, g greeting) bool {
	if g.until.IsZero() {
		return true
	}
	var b [1]byte
	c.Conn.SetReadDeadline(g.until)
	var n int
	var err error
	// An eviction's wake-up may have come before this deadline replaced
	// it.
	if !c.evicted.Load() {
		n, err = c.Conn.Read(b[:])
	}
	c.Conn.SetReadDeadline(time.Time{})
	c.setGreeting(false)
	if c.evicted.Load() {
		// Its slot went to a client that passed before.
		c.sayEvicted()
		c.Close()
		return false
	}
	if n == 0 && isTimeout(err) {
		a := &c.cfg.Abuse
		if err := a.Store.Set(c.ctx, greetKey(c), time.Now(), a.GreetTTL); err != nil {
			c.fc.Log.Debug("pregreet pass not remembered", "err", err) // the store logs the outage
		}
		c.fc.Log.Debug("pregreet passed")
		return true
	}
	metrics.ConnectionsRefused.WithLabelValues("pregreet").Inc()
	r := filters.ReplyPregreet.WithQueueID(c.id)
	if n > 0 {
		maillog.Reject(c.fc.Log, maillog.Refusal{Phase: "CONNECT", Test: "pregreet", Reply: r,
			Reason: "client talked before the banner's last line"})
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, replyLine(r))
		// It may have sent more than the byte read; closing on unread
		// input resets the connection and can lose the reply.
		c.linger.Store(true)
	}
	c.Close()
	return false
}

func greetKey(c *clientConn) string { return "greet:" + c.ip.String() }

func isTimeout(err error) bool {
	t, ok := err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// setGreeting marks c as taking the test or not, counted in the proxy's
// admission state.
func (c *clientConn) setGreeting(on bool) {
	if c.greeting.CompareAndSwap(!on, on) {
		if on {
			c.p.adm.greeting.Add(1)
		} else {
			c.p.adm.greeting.Add(-1)
		}
	}
}

// firstLine renders r as the first line of a multi-line reply ("220-...").
func firstLine(r filters.Reply) string {
	return strconv.Itoa(r.Code) + "-" + r.Text + "\r\n"
}
