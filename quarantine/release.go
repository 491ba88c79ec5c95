package quarantine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mailguard/relay"
)

// ErrReleased is returned for a second release of one entry: a message is
// released once, never twice.
var ErrReleased = errors.New("already released")

// Delivery is how one delivery attempt went, recipient by recipient.
type Delivery struct {
	// Delivered took the message (2xx after DATA).
	Delivered []string
	// Refused refused it permanently: "addr: reply" each.
	Refused []string
	// Deferred refused it for now (4xx, or the backend unreachable);
	// they are tried again later.
	Deferred []string
	// Err says why the attempt failed for the Deferred, if it did.
	Err error
}

// Deliverer delivers a released message to the given recipients.
type Deliverer interface {
	Deliver(ctx context.Context, from string, rcpts []string, size int64, msg io.Reader) Delivery
}

// Backend delivers through relay/ to the backend MTA.
type Backend relay.Config

// Deliver implements Deliverer: one SMTP transaction, RCPT by RCPT.
func (b Backend) Deliver(ctx context.Context, from string, rcpts []string, size int64, msg io.Reader) Delivery {
	var d Delivery
	deferAll := func(err error) Delivery {
		d.Deferred = append(d.Deferred, rcpts...)
		d.Err = err
		return d
	}
	cl, err := relay.Dial(ctx, relay.Config(b))
	if err != nil {
		return deferAll(err)
	}
	defer cl.Close()
	utf8Env := !isASCII(from)
	for _, r := range rcpts {
		utf8Env = utf8Env || !isASCII(r)
	}
	rep, err := cl.Mail(ctx, from, relay.MailOptions{Size: size, SMTPUTF8: utf8Env})
	switch {
	case err != nil:
		return deferAll(err)
	case rep.Permanent():
		for _, r := range rcpts {
			d.Refused = append(d.Refused, r+": "+rep.String())
		}
		return d
	case rep.Code/100 != 2:
		return deferAll(fmt.Errorf("sender <%s>: %s", from, rep))
	}
	var accepted []string
	for _, r := range rcpts {
		rep, err := cl.Rcpt(ctx, r)
		switch {
		case err != nil:
			return deferAll(err)
		case rep.Code/100 == 2:
			accepted = append(accepted, r)
		case rep.Permanent():
			d.Refused = append(d.Refused, r+": "+rep.String())
		default:
			d.Deferred = append(d.Deferred, r)
			d.Err = fmt.Errorf("<%s>: %s", r, rep)
		}
	}
	if len(accepted) == 0 {
		cl.Reset(ctx)
		return d
	}
	rep, err = cl.Data(ctx, msg)
	switch {
	case err != nil:
		d.Deferred = append(d.Deferred, accepted...)
		d.Err = err
	case rep.Code/100 == 2:
		d.Delivered = accepted
	case rep.Permanent():
		for _, r := range accepted {
			d.Refused = append(d.Refused, r+": "+rep.String())
		}
	default:
		d.Deferred = append(d.Deferred, accepted...)
		d.Err = fmt.Errorf("message: %s", rep)
	}
	return d
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Locker is implemented by stores that can keep two processes from
// delivering one entry at once (Dir does, with a lock file).
type Locker interface {
	Lock(id string) (unlock func(), err error)
}

// Defaults of a Releaser.
const (
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultMaxBytes   = 1 << 30
	DefaultRetryFirst = time.Minute
	DefaultRetryMax   = time.Hour
)

// Releaser releases held messages to their original envelope recipients,
// retries temporary failures with exponential backoff until the entry's
// retention ends, and expires old entries.
type Releaser struct {
	Store   Store
	Deliver Deliverer
	// Retention is how long an entry is kept (default DefaultRetention);
	// a release still undelivered then is given up.
	Retention time.Duration
	// MaxBytes caps the messages' total size (default DefaultMaxBytes);
	// the oldest go first.
	MaxBytes int64
	// RetryFirst is the wait after the first temporary failure, doubled
	// after each up to RetryMax.
	RetryFirst, RetryMax time.Duration
	Log                  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu sync.Mutex // in-process stand-in for a store without Locker
}

func (r *Releaser) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Releaser) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Releaser) retention() time.Duration {
	if r.Retention > 0 {
		return r.Retention
	}
	return DefaultRetention
}

func (r *Releaser) lock(id string) (func(), error) {
	if l, ok := r.Store.(Locker); ok {
		return l.Lock(id)
	}
	r.mu.Lock()
	return r.mu.Unlock, nil
}

// Release marks entry id released by reviewer and makes the first delivery
// attempt. It returns the entry as it stands: with Release.Pending empty
// the message is delivered (or refused) and the entry gone; otherwise
// later attempts (RetryDue) go on. A second release is ErrReleased.
func (r *Releaser) Release(ctx context.Context, id, reviewer string) (Entry, error) {
	unlock, err := r.lock(id)
	if err != nil {
		return Entry{}, err
	}
	defer unlock()
	e, rc, err := r.Store.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	rc.Close()
	if e.Release != nil {
		return e, fmt.Errorf("quarantine %s: %w by %s at %s", e.ID, ErrReleased, e.Release.By, e.Release.At.UTC().Format(time.RFC3339))
	}
	e.Release = &Release{By: reviewer, At: r.now().UTC(), Pending: slices.Clone(e.Rcpts)}
	// Recorded before the first attempt, so a crash or a concurrent
	// release cannot deliver it twice.
	if err := r.Store.Update(ctx, e); err != nil {
		return Entry{}, err
	}
	r.log().Info("quarantine release", "queue_id", e.ID, "by", reviewer, "rcpts", strings.Join(e.Rcpts, ","))
	Note(r.Store, Event{Time: e.Release.At, ID: e.ID, Kind: EventReleased, Score: e.Score, By: reviewer})
	return r.attempt(ctx, e)
}

// attempt delivers e to its pending recipients and records how it went;
// the entry is removed once nothing is pending. The caller holds the lock.
func (r *Releaser) attempt(ctx context.Context, e Entry) (Entry, error) {
	_, rc, err := r.Store.Get(ctx, e.ID)
	if err != nil {
		return Entry{}, err
	}
	d := r.Deliver.Deliver(ctx, e.MailFrom, e.Release.Pending, 0, Released(rc, e.Release.By))
	rc.Close()
	rel := e.Release
	rel.Attempts++
	rel.Pending = d.Deferred
	rel.Delivered = append(rel.Delivered, d.Delivered...)
	rel.Refused = append(rel.Refused, d.Refused...)
	log := r.log().With("queue_id", e.ID)
	// Logged once the entry says so, so whoever reads the line finds the
	// quarantine as it says.
	delivered := func() {
		if len(d.Delivered) > 0 {
			log.Info("quarantine release delivered", "rcpts", strings.Join(d.Delivered, ","), "attempt", rel.Attempts)
		}
	}
	for _, x := range d.Refused {
		log.Warn("quarantine release refused", "rcpt", x)
	}
	if len(rel.Pending) == 0 {
		if len(rel.Delivered) == 0 {
			// Refused for good, everyone: keep the message for the
			// reviewer to see, no longer marked released.
			rel.LastError = "refused: " + strings.Join(rel.Refused, "; ")
			e.Release = nil
			if err := r.Store.Update(ctx, e); err != nil {
				return e, err
			}
			return e, fmt.Errorf("quarantine %s: the backend refused every recipient: %s", e.ID, strings.Join(rel.Refused, "; "))
		}
		if err := r.Store.Delete(ctx, e.ID); err != nil {
			return e, fmt.Errorf("delivered, but not removed from the quarantine: %w", err)
		}
		delivered()
		return e, nil
	}
	rel.LastError = fmt.Sprint(d.Err)
	wait := r.RetryFirst
	if wait <= 0 {
		wait = DefaultRetryFirst
	}
	maxWait := r.RetryMax
	if maxWait <= 0 {
		maxWait = DefaultRetryMax
	}
	for i := 1; i < rel.Attempts && wait < maxWait; i++ {
		wait *= 2
	}
	rel.NextAttempt = r.now().Add(min(wait, maxWait)).UTC()
	log.Warn("quarantine release deferred", "rcpts", strings.Join(rel.Pending, ","), "err", rel.LastError,
		"attempt", rel.Attempts, "next_attempt", rel.NextAttempt.Format(time.RFC3339))
	if err := r.Store.Update(ctx, e); err != nil {
		return e, err
	}
	delivered()
	return e, nil
}

// RetryDue makes the delivery attempts that are due; it returns how many
// it made. Entries another process is delivering are skipped.
func (r *Releaser) RetryDue(ctx context.Context) (int, error) {
	l, err := r.Store.List(ctx)
	if err != nil {
		return 0, err
	}
	now := r.now()
	n := 0
	for _, e := range l {
		if e.Release == nil || len(e.Release.Pending) == 0 || now.Before(e.Release.NextAttempt) ||
			!now.Before(e.Time.Add(r.retention())) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		unlock, err := r.lock(e.ID)
		if err != nil {
			continue
		}
		// Read again under the lock: another process may have
		// delivered it meanwhile.
		cur, rc, err := r.Store.Get(ctx, e.ID)
		if err == nil {
			rc.Close()
			if cur.Release != nil && len(cur.Release.Pending) > 0 && !now.Before(cur.Release.NextAttempt) {
				n++
				if _, err := r.attempt(ctx, cur); err != nil {
					r.log().Warn("quarantine release", "queue_id", e.ID, "err", err)
				}
			}
		}
		unlock()
	}
	return n, nil
}

// Expire removes the entries older than the retention, then the oldest
// ones while the messages' total size is over MaxBytes. It returns how
// many it removed.
func (r *Releaser) Expire(ctx context.Context) (int, error) {
	l, err := r.Store.List(ctx) // oldest first
	if err != nil {
		return 0, err
	}
	maxBytes := r.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var total int64
	for _, e := range l {
		total += e.Size
	}
	cutoff := r.now().Add(-r.retention())
	n := 0
	for _, e := range l {
		over := total > maxBytes
		if !e.Time.Before(cutoff) && !over {
			break // the rest are younger
		}
		unlock, err := r.lock(e.ID)
		if err != nil {
			continue // being delivered now; the next round removes it
		}
		err = r.Store.Delete(ctx, e.ID)
		unlock()
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				total -= e.Size
				continue
			}
			return n, err
		}
		total -= e.Size
		n++
		Note(r.Store, Event{Time: r.now().UTC(), ID: e.ID, Kind: EventExpired, Score: e.Score})
		why := "retention"
		if e.Time.After(cutoff) {
			why = "max_bytes"
		}
		attrs := []any{"queue_id", e.ID, "why", why, "held", e.Time.UTC().Format(time.RFC3339)}
		if e.Release != nil && len(e.Release.Pending) > 0 {
			r.log().Error("quarantine release given up", append(attrs, "rcpts", strings.Join(e.Release.Pending, ","), "err", e.Release.LastError)...)
		} else {
			r.log().Info("quarantine expired", attrs...)
		}
	}
	return n, nil
}
