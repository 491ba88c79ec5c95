package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"sort"
	"strings"
	"time"

	"mailguard/classifier"
	"mailguard/evaluate"
	"mailguard/filters"
	"mailguard/rules"
)

// chainJudge runs a stored message through the end-of-DATA chain the
// configuration builds, with the message checks' clock set to when the
// message arrived (its newest Received line), so that old mail is not
// taken for mail dated in the past.
func chainJudge(cfg *rules.Config) func(ctx context.Context, cl *classifier.Classifier, s evaluate.Sample) (filters.Outcome, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return func(ctx context.Context, cl *classifier.Classifier, s evaluate.Sample) (filters.Outcome, error) {
		m := filters.NewMessage(withoutEnvelopeLine(s.Raw))
		at := arrival(m.Header)
		chain, err := rules.OfflineChain(cfg, cl, func() time.Time { return at })
		if err != nil {
			return filters.Outcome{}, err
		}
		tx := filters.NewTransaction(&filters.ClientConn{Log: quiet}, "EVAL")
		return chain.Data(ctx, tx, m), nil
	}
}

// withoutEnvelopeLine drops an mbox "From " line at the top of a stored
// message: it is the mailbox's separator, never part of what a client sends
// over SMTP, and the checks would take it for a malformed header line.
func withoutEnvelopeLine(raw []byte) []byte {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return raw
	}
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		return raw[i+1:]
	}
	return nil
}

// arrival returns the date of the topmost Received field (after its ";",
// RFC 5322 section 3.6.7), else the Date field's, else now.
func arrival(h filters.Header) time.Time {
	if v := h.Get("Received"); v != "" {
		if i := strings.LastIndexByte(v, ';'); i >= 0 {
			if t, err := mail.ParseDate(strings.TrimSpace(v[i+1:])); err == nil {
				return t
			}
		}
	}
	if t, err := mail.ParseDate(h.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

func printChainReport(w io.Writer, r *evaluate.ChainReport) {
	fmt.Fprintf(w, "messages     %d spam, %d ham, %s; thresholds tag %g, quarantine %g, reject %g\n",
		r.Spam.Messages, r.Ham.Messages, foldsText(r.Folds, r.TestMods), r.Tag, r.Quarantine, r.Reject)
	fmt.Fprintf(w, "%-6s %9s %9s %12s %9s %9s\n", "", "relayed", "tagged", "quarantined", "rejected", "refused")
	for _, c := range []struct {
		name string
		a    evaluate.Actions
	}{{"spam", r.Spam}, {"ham", r.Ham}} {
		refused := 0
		for _, n := range c.a.Refused {
			refused += n
		}
		for _, n := range c.a.ByCheck {
			refused += n
		}
		fmt.Fprintf(w, "%-6s %9d %9d %12d %9d %9d\n", c.name, c.a.Relayed, c.a.Tagged, c.a.Quarantined, c.a.Rejected, refused)
	}
	fmt.Fprintf(w, "spam         %.2f%% tagged or worse (%.2f%% of those the score decided), %.2f%% quarantined or rejected on score\n", r.Spam.TaggedOrWorsePct, r.Spam.JudgedTaggedOrWorsePct, r.Spam.HeldOrRejectedPct)
	fmt.Fprintf(w, "ham          %.3f%% tagged or worse (%.3f%% of those the score decided), %.3f%% quarantined or rejected on score\n", r.Ham.TaggedOrWorsePct, r.Ham.JudgedTaggedOrWorsePct, r.Ham.HeldOrRejectedPct)
	for _, c := range []struct {
		name string
		a    evaluate.Actions
	}{{"spam", r.Spam}, {"ham", r.Ham}} {
		if len(c.a.Refused) > 0 {
			fmt.Fprintf(w, "refused      %s as malformed (550 5.6.0): %s (%.2f%%)\n", c.name, counts(c.a.Refused), c.a.RefusedPct)
		}
		if len(c.a.ByCheck) > 0 {
			fmt.Fprintf(w, "by a check   %s: %s\n", c.name, counts(c.a.ByCheck))
		}
	}
	for _, j := range r.HamFlagged {
		fmt.Fprintf(w, "ham %-8s %s score=%s tests=%s\n", j.Action, j.Name, filters.FormatPoints(j.Score), j.Tests)
	}
}

// counts renders a count map as "key n, key n", keys sorted.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
