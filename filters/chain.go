package filters

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Filter is any check; it implements one or more of the phase interfaces.
type Filter interface {
	// Name identifies the check in logs ("dnsbl", "relay", ...).
	Name() string
}

// ConnectChecker runs when a client connects, before the banner.
type ConnectChecker interface {
	CheckConnect(ctx context.Context, c *ClientConn) Verdict
}

// HeloChecker runs at HELO/EHLO.
type HeloChecker interface {
	CheckHelo(ctx context.Context, c *ClientConn) Verdict
}

// MailChecker runs at MAIL FROM.
type MailChecker interface {
	CheckMail(ctx context.Context, t *Transaction) Verdict
}

// RcptChecker runs at each RCPT TO, before the recipient is added to
// t.Rcpts.
type RcptChecker interface {
	CheckRcpt(ctx context.Context, t *Transaction, rcpt string) Verdict
}

// MessageChecker runs at the end of DATA, on the whole message.
type MessageChecker interface {
	CheckMessage(ctx context.Context, t *Transaction, m *Message) Verdict
}

// OutcomeObserver is told the judgement on each message once every check
// has scored it, for work that needs the whole score (the classifier learns
// from mail the other checks found overwhelmingly spammy). It runs before
// the client gets its reply, so it must hand slow work off and return.
type OutcomeObserver interface {
	ObserveOutcome(ctx context.Context, t *Transaction, out Outcome)
}

// ChainConfig builds a Chain.
type ChainConfig struct {
	// Filters in the order they are listed; ties between equally strong
	// verdicts go to the earlier one.
	Filters []Filter
	// Policy maps a message's total score to an action.
	Policy Policy
	// Timeout bounds each check (default 30s); one that overruns it counts
	// as having no opinion.
	Timeout time.Duration
	// Log is the logger for checks that fail (default slog.Default()).
	Log *slog.Logger
}

// Chain runs the checks of each phase.
type Chain struct {
	connect []named[ConnectChecker]
	helo    []named[HeloChecker]
	mail    []named[MailChecker]
	rcpt    []named[RcptChecker]
	message []named[MessageChecker]
	observe []named[OutcomeObserver]
	policy  Policy
	timeout time.Duration
	log     *slog.Logger
	filters []Filter
}

// NewChain sorts the filters into phases once.
func NewChain(cfg ChainConfig) *Chain {
	c := &Chain{policy: cfg.Policy, timeout: cfg.Timeout, log: cfg.Log, filters: cfg.Filters}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	for _, f := range cfg.Filters {
		n := f.Name()
		if x, ok := f.(ConnectChecker); ok {
			c.connect = append(c.connect, named[ConnectChecker]{n, x, new(atomic.Int32)})
		}
		if x, ok := f.(HeloChecker); ok {
			c.helo = append(c.helo, named[HeloChecker]{n, x, new(atomic.Int32)})
		}
		if x, ok := f.(MailChecker); ok {
			c.mail = append(c.mail, named[MailChecker]{n, x, new(atomic.Int32)})
		}
		if x, ok := f.(RcptChecker); ok {
			c.rcpt = append(c.rcpt, named[RcptChecker]{n, x, new(atomic.Int32)})
		}
		if x, ok := f.(MessageChecker); ok {
			c.message = append(c.message, named[MessageChecker]{n, x, new(atomic.Int32)})
		}
		if x, ok := f.(OutcomeObserver); ok {
			c.observe = append(c.observe, named[OutcomeObserver]{n, x, new(atomic.Int32)})
		}
	}
	return c
}

// named is a check with the name of the filter it came from, for logs.
type named[F any] struct {
	name  string
	check F
	// stuck counts the check's calls left running past their deadline
	// (see maxStuck).
	stuck *atomic.Int32
}

// Filters returns the chain's filters in order.
func (c *Chain) Filters() []Filter { return c.filters }

// Policy returns the chain's score policy.
func (c *Chain) Policy() Policy { return c.policy }

// Connect runs the connect-phase checks. Scores found before a transaction
// exists are kept on the connection and added to each transaction.
func (c *Chain) Connect(ctx context.Context, conn *ClientConn) Verdict {
	v := runPhase(ctx, c, "connect", conn.Log, c.connect, func(ctx context.Context, f ConnectChecker) Verdict { return f.CheckConnect(ctx, conn) })
	conn.addConnScores(v.Scores)
	return v
}

// Helo runs the HELO-phase checks.
func (c *Chain) Helo(ctx context.Context, conn *ClientConn) Verdict {
	v := runPhase(ctx, c, "helo", conn.Log, c.helo, func(ctx context.Context, f HeloChecker) Verdict { return f.CheckHelo(ctx, conn) })
	conn.addConnScores(v.Scores)
	return v
}

// Mail runs the MAIL-phase checks.
func (c *Chain) Mail(ctx context.Context, t *Transaction) Verdict {
	t.AddScore(t.Conn.connScores()...)
	v := runPhase(ctx, c, "mail", t.Log, c.mail, func(ctx context.Context, f MailChecker) Verdict { return f.CheckMail(ctx, t) })
	t.AddScore(v.Scores...)
	return v
}

// Rcpt runs the RCPT-phase checks for one recipient.
func (c *Chain) Rcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	v := runPhase(ctx, c, "rcpt", t.Log, c.rcpt, func(ctx context.Context, f RcptChecker) Verdict { return f.CheckRcpt(ctx, t, rcpt) })
	t.AddScore(v.Scores...)
	return v
}

// Outcome is the judgement on a whole message.
type Outcome struct {
	// Verdict is the strongest check's verdict, or the policy's when the
	// checks themselves did not act.
	Verdict Verdict
	// Score is the total score; Tag is true at or over the tag threshold.
	Score float64
	Tag   bool
	// Tests are the tests that fired, with their points.
	Tests []Score
	// Headers to add at the top of the message, after Received:.
	Headers []Field
}

// Data runs the message checks and applies the policy to the total.
func (c *Chain) Data(ctx context.Context, t *Transaction, m *Message) Outcome {
	v := runPhase(ctx, c, "data", t.Log, c.message, func(ctx context.Context, f MessageChecker) Verdict { return f.CheckMessage(ctx, t, m) })
	t.AddScore(v.Scores...)
	out := Outcome{Verdict: v, Tests: t.Scores(), Score: t.Total()}
	allowed := t.AllowListed()
	d := c.policy.Decide(out.Score)
	if allowed {
		d = Decision{}
	}
	out.Tag = d.Tag
	if d.Action > v.Action {
		switch d.Action {
		case Reject:
			out.Verdict = Refuse(ReplySpam.Format(summarize(out.Score, out.Tests)), "score over reject threshold")
		case Quarantine:
			out.Verdict = Hold("score over quarantine threshold")
		}
		// The total decided, not one filter.
		out.Verdict.Filter = "score"
	}
	out.Headers = append(out.Headers, c.policy.StatusHeaders(out.Score, out.Tests, allowed)...)
	out.Headers = append(out.Headers, t.AddedHeaders()...)
	for _, o := range c.observe {
		observe(ctx, t, o, out)
	}
	return out
}

// observe tells one observer the outcome; a panic in it is logged, never
// felt by the client.
func observe(ctx context.Context, t *Transaction, o named[OutcomeObserver], out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			log := t.Log
			if log == nil {
				log = slog.Default()
			}
			log.Error("outcome observer panicked", "filter", o.name, "panic", fmt.Sprint(r))
		}
	}()
	o.check.ObserveOutcome(ctx, t, out)
}

func summarize(score float64, tests []Score) string {
	top := TopTests(tests, 3)
	s := fmt.Sprintf("score %s", FormatPoints(score))
	if len(top) > 0 {
		s += ", tests " + FormatTests(top)
	}
	return s
}
