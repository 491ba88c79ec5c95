package rbl

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"mailguard/resolver"
)

// future is a list lookup running in the background, started early and
// awaited where its answer is needed.
type future struct {
	done chan struct{}
	res  Listing
}

// start begins asking list l about name. The lookup is detached from ctx's
// cancellation (the connect phase's context ends as soon as the check
// returns) but bounded by timeout.
func start(ctx context.Context, r resolver.Resolver, l *List, name string, timeout time.Duration, log *slog.Logger) *future {
	f := &future{done: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		f.res = Lookup(ctx, r, l, name, log)
		if f.res.Err != nil {
			log.Warn("dns list lookup failed; counted as not listed", "zone", l.Zone, "query", name, "err", f.res.Err)
		}
		close(f.done)
	}()
	return f
}

// wait returns the listing, or not listed when ctx ends first.
func (f *future) wait(ctx context.Context) Listing {
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return Listing{Err: fmt.Errorf("waiting for the answer: %w", ctx.Err())}
	}
}
