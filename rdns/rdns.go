// Package rdns scores clients by their reverse DNS (FCrDNS, RFC 8601's
// "iprev" idea, Postfix's reject_unknown_client_hostname as a score):
// RDNS_NONE when the address has no PTR record, RDNS_MISMATCH when its PTR
// names do not resolve back to it. Relay, allow-listed and authenticated
// clients are not scored; a temporary DNS failure scores nothing.
package rdns

import (
	"context"
	"time"

	"mailguard/filters"
	"mailguard/resolver"
)

// Test names, after SpamAssassin's RDNS_NONE.
const (
	TestNone     = "RDNS_NONE"
	TestMismatch = "RDNS_MISMATCH"
)

// Default weights.
const (
	DefaultNone     = 1.0
	DefaultMismatch = 0.5
)

// Config configures the check.
type Config struct {
	Resolver resolver.Resolver
	// Timeout bounds the PTR lookup (default 2s).
	Timeout time.Duration
	// None and Mismatch are the points of each test.
	None, Mismatch float64
}

// Check is the filter.
type Check struct{ cfg Config }

// New returns the check.
func New(cfg Config) *Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	return &Check{cfg: cfg}
}

// Name implements filters.Filter.
func (*Check) Name() string { return "rdns" }

// Result is what the client's reverse DNS says: "" (forward-confirmed, or
// not known), TestNone or TestMismatch.
func (c *Check) Result(ctx context.Context, conn *filters.ClientConn) (string, error) {
	if conn.ClientName != "" || !conn.ClientIP.IsValid() {
		return "", nil
	}
	v := conn.GetOrSet("rdns", func() any {
		ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		names, err := resolver.LookupAddr(ctx, c.cfg.Resolver, conn.ClientIP)
		switch {
		case err != nil:
			return err
		case len(names) == 0:
			return TestNone
		}
		// The connection's ClientName is forward-confirmed: a PTR
		// without one did not confirm.
		return TestMismatch
	})
	if err, ok := v.(error); ok {
		return "", err
	}
	return v.(string), nil
}

// CheckMail scores the transaction's client once.
func (c *Check) CheckMail(ctx context.Context, t *filters.Transaction) filters.Verdict {
	conn := t.Conn
	if conn.MayRelay() || conn.AllowListed() {
		return filters.Pass()
	}
	test, err := c.Result(ctx, conn)
	if err != nil {
		// No score on what DNS could not say.
		return filters.Pass()
	}
	switch test {
	case TestNone:
		return filters.Scored(TestNone, c.cfg.None, "client has no reverse DNS")
	case TestMismatch:
		return filters.Scored(TestMismatch, c.cfg.Mismatch, "client's reverse DNS does not resolve back to it")
	}
	return filters.Pass()
}
