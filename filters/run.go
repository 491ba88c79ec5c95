package filters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"mailguard/metrics"
)

// runPhase runs checks in order, each under the chain's deadline and with
// panic recovery, and merges their verdicts: the strongest action wins, ties
// go to the first; scores of every check are kept.
//
// The checks of a phase run one after another on one worker goroutine,
// which hands back each verdict as it has it. A goroutine handoff for every
// check cost a wake-up of another thread each, and on a loaded host each
// wake-up waits for the kernel's scheduler. A check that overruns its
// deadline is left to its worker, which then runs nothing more, and the
// checks after it go on on another.
func runPhase[F any](ctx context.Context, c *Chain, phase string, log *slog.Logger, checks []named[F], call func(context.Context, F) Verdict) Verdict {
	if log == nil {
		log = c.log
	}
	var merged Verdict
	if len(checks) == 0 {
		return merged
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	for next := 0; next < len(checks); {
		base := next
		run := startChecks(ctx, c.timeout, log, phase, checks[next:], call)
		for left := true; left && next < len(checks); next++ {
			name := checks[next].name
			timer.Reset(c.timeout)
			var r checkResult
			select {
			case r = <-run.results:
			case <-timer.C:
				in, ok := run.abandon(next - base)
				if !ok {
					// The check answered as the wait ended and its
					// worker has gone on: its verdict is in.
					r = <-run.results
					break
				}
				if in {
					// The check does not heed its context: leave it.
					checks[next].stuck.Add(1)
				}
				left = false
				r.err = context.DeadlineExceeded
			case <-ctx.Done():
				run.pos.Store(abandoned)
				log.Warn("check cut short; treated as no opinion", "filter", name, "err", ctx.Err())
				return merged
			}
			switch {
			case errors.Is(r.err, errStuck):
				log.Warn("check skipped: too many of its calls still running past their deadline; treated as no opinion", "filter", name, "stuck", maxStuck)
			case errors.Is(r.err, context.DeadlineExceeded):
				log.Warn("check overran its deadline; treated as no opinion", "filter", name, "err", r.err)
			case r.err != nil:
				log.Warn("check cut short; treated as no opinion", "filter", name, "err", r.err)
			}
			v := r.v
			merged.Scores = append(merged.Scores, v.Scores...)
			if v.Action > merged.Action {
				merged.Action, merged.Reply, merged.Reason, merged.Filter, merged.Test = v.Action, v.Reply, v.Reason, name, v.Test
			}
			if v.Action == Reject {
				// Nothing stronger can follow; later checks would only
				// cost time (the worker has stopped).
				return merged
			}
		}
	}
	return merged
}

// checkResult is a check's verdict, or no opinion and why when the
// check's context ended before it answered.
type checkResult struct {
	v   Verdict
	err error
}

// checkRun is one worker's way through the checks of a phase.
type checkRun struct {
	// results has room for every check's, so a worker whose session gave
	// up on it never blocks.
	results chan checkResult
	// pos is where the worker is: inCheck(i) while it runs its check i,
	// doneWith(i) once that check has answered (its result follows on
	// results), and, negative, that the phase gave up on it: leftIn(i)
	// when it was in its check i, abandoned otherwise. Worker and phase
	// change it only by compare-and-swap, so a check is never begun by a
	// worker the phase has left (the phase would run it again on
	// another), and a call the phase gave up on is known as such to both.
	pos atomic.Int64
}

func inCheck(i int) int64  { return 2*int64(i) + 1 }
func doneWith(i int) int64 { return 2*int64(i) + 2 }
func leftIn(i int) int64   { return -int64(i) - 2 }

// abandoned is checkRun.pos once the phase has left the worker between
// checks.
const abandoned = -1

// maxStuck bounds a check's calls left running past their deadline: with
// that many (a library deaf to its context, a server that never answers),
// the check is skipped, as no opinion, until one comes back, so a check
// hung for good costs a bounded number of goroutines, not one a
// transaction.
const maxStuck = 32

// errStuck is the result of a check skipped for maxStuck.
var errStuck = errors.New("too many calls of the check still running past their deadline")

// abandon leaves the worker if it is still in its check i (in) or has
// not begun it, and reports whether it did; false means the check has
// answered and its verdict is, or is about to be, in results.
func (run *checkRun) abandon(i int) (in, ok bool) {
	for {
		n := run.pos.Load()
		switch {
		case n >= doneWith(i):
			return false, false
		case n == inCheck(i):
			if run.pos.CompareAndSwap(n, leftIn(i)) {
				return true, true
			}
		default:
			if run.pos.CompareAndSwap(n, abandoned) {
				return false, true
			}
		}
	}
}

// startChecks runs checks in order on a worker, until one rejects or the
// run is abandoned.
func startChecks[F any](ctx context.Context, timeout time.Duration, log *slog.Logger, phase string, checks []named[F], call func(context.Context, F) Verdict) *checkRun {
	run := &checkRun{results: make(chan checkResult, len(checks))}
	goCheck(func() {
		for i, f := range checks {
			if !run.pos.CompareAndSwap(doneWith(i-1), inCheck(i)) {
				return
			}
			r := checkResult{err: errStuck}
			if f.stuck.Load() < maxStuck {
				start := time.Now()
				r = runCheck(ctx, timeout, log, f.name, f.check, call)
				metrics.FilterDuration.WithLabelValues(f.name, phase).Observe(time.Since(start).Seconds())
			}
			if !run.pos.CompareAndSwap(inCheck(i), doneWith(i)) {
				if run.pos.Load() == leftIn(i) {
					// Back from a call the phase gave up on.
					f.stuck.Add(-1)
				}
				return
			}
			run.results <- r
			if r.v.Action == Reject {
				return
			}
		}
	})
	return run
}

// runCheck runs one check under its own deadline. A panic, a verdict come
// after the deadline and a refusal without a reply are no opinion (the
// scores of the last are kept).
func runCheck[F any](ctx context.Context, timeout time.Duration, log *slog.Logger, name string, f F, call func(context.Context, F) Verdict) (r checkResult) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			log.Error("check panicked; treated as no opinion", "filter", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r = checkResult{}
		}
	}()
	v := call(ctx, f)
	if err := ctx.Err(); err != nil {
		return checkResult{err: err}
	}
	if v.Action != Continue && v.Action != Quarantine && v.Reply.IsZero() {
		log.Error("check refused without a reply; treated as no opinion", "filter", name, "action", v.Action)
		return checkResult{v: Verdict{Scores: v.Scores}}
	}
	return checkResult{v: v}
}
