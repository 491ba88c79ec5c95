// Package maillog writes the gateway's decision lines: one line for each
// refusal and one for each accepted message, in the manner of Postfix's
// mail log, so an operator greps one queue id for a message's story and one
// msg= value for a kind of decision. The shape of those lines is this
// package's business alone; the metrics that count the same decisions are
// updated here too, so the log and /metrics never disagree.
//
//	level=INFO msg=reject queue_id=... phase=RCPT filter=dnsbl test=RCVD_IN_ZEN_SPAMHAUS_ORG reply="554 5.7.1 ..." reason="..." from=<a@example.com> to=<u@example.org>
//	level=INFO msg=relayed queue_id=... size=2311 nrcpt=1 score=1.2 tests=BAYES_20,SPF_PASS from=<a@example.com> to=[u@example.org] backend_reply="250 ..."
//
// The logger passed in carries the session, client and queue id.
package maillog

import (
	"log/slog"

	"mailguard/filters"
	"mailguard/metrics"
)

// Gateway is the filter name of the gateway's own refusals: its limits,
// protocol errors and the backend's replies passed on.
const Gateway = "mailguard"

// Refusal is one refused command or message.
type Refusal struct {
	// Phase is the SMTP command refused: MAIL, RCPT or DATA (the milter's
	// END-OF-MESSAGE).
	Phase string
	// Filter names the filter that decided (Gateway when none did), Test
	// the test behind it ("" when none).
	Filter, Test string
	// Reply is what the client was sent.
	Reply filters.Reply
	// Reason is the decision's detail for the operator ("" for none).
	Reason string
}

// Reject writes a refusal's line and counts it; attrs (key, value pairs)
// follow the fixed keys. A refusal in the DATA phase is also a message's
// end.
func Reject(l *slog.Logger, r Refusal, attrs ...any) {
	if r.Filter == "" {
		r.Filter = Gateway
	}
	outcome := metrics.Rejected
	if r.Reply.Temporary() {
		outcome = metrics.Tempfailed
	}
	metrics.Refusals.WithLabelValues(r.Phase, r.Filter, outcome).Inc()
	if r.Phase == "DATA" || r.Phase == "END-OF-MESSAGE" {
		metrics.Messages.WithLabelValues(outcome, r.Test).Inc()
	}
	a := []any{"phase", r.Phase, "filter", r.Filter}
	if r.Test != "" {
		a = append(a, "test", r.Test)
	}
	a = append(a, "reply", r.Reply.String())
	if r.Reason != "" {
		a = append(a, "reason", r.Reason)
	}
	l.Info("reject", append(a, attrs...)...)
}

// Message is an accepted message's end.
type Message struct {
	// Outcome is metrics.Relayed, metrics.Tagged or metrics.Quarantined.
	Outcome string
	Size    int64
	Nrcpt   int
	Score   float64
	Tests   []filters.Score
	// Test is the test that weighed most ("" when none scored).
	Test string
	// Verb is the line's msg; "" means relayed or quarantined by Outcome
	// (the milter says "accepted" and "held at the MTA").
	Verb string
}

// Accepted writes an accepted message's line (msg=relayed, with tagged=true
// when tagged, or msg=quarantined) and counts it; attrs follow.
func Accepted(l *slog.Logger, m Message, attrs ...any) {
	metrics.Messages.WithLabelValues(m.Outcome, m.Test).Inc()
	msg := m.Verb
	switch {
	case msg != "":
	case m.Outcome == metrics.Quarantined:
		msg = "quarantined"
	default:
		msg = "relayed"
	}
	a := []any{"size", m.Size, "nrcpt", m.Nrcpt, "score", filters.FormatPoints(m.Score), "tests", filters.FormatTests(m.Tests)}
	if m.Outcome == metrics.Tagged {
		a = append(a, "tagged", true)
	}
	l.Info(msg, append(a, attrs...)...)
}

// DecidedBy takes the "filter" and "test" pairs out of a refusal's log
// attributes, for the front ends' reject lines; without a filter, the
// gateway itself decided.
func DecidedBy(args []any) (filter, test string, rest []any) {
	filter = Gateway
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		v, isString := args[i+1].(string)
		switch {
		case k == "filter" && isString:
			if v != "" {
				filter = v
			}
		case k == "test" && isString:
			test = v
		default:
			rest = append(rest, args[i], args[i+1])
		}
	}
	return filter, test, rest
}

// DecidingTest is the test that weighed most in a message's outcome, ""
// when none scored: a bounded label, since test names come from the
// configuration.
func DecidingTest(out filters.Outcome) string {
	if top := filters.TopTests(out.Tests, 1); len(top) > 0 && top[0].Points > 0 {
		return top[0].Test
	}
	return ""
}

// AcceptedMessage describes an accepted message of size bytes for its
// log line; verb is Message.Verb.
func AcceptedMessage(outcome, verb string, out filters.Outcome, size int64, nrcpt int) Message {
	return Message{Outcome: outcome, Verb: verb, Size: size, Nrcpt: nrcpt, Score: out.Score, Tests: out.Tests, Test: DecidingTest(out)}
}
