// Package authres checks who a message is really from: SPF (RFC 7208) on
// the client IP and the envelope sender, DKIM (RFC 6376) signatures, and
// the DMARC (RFC 7489) policy of the From domain. The results go into an
// Authentication-Results header (RFC 8601) for the mailbox's filters, and
// failures add score under test names (SPF_FAIL, DKIM_INVALID,
// DMARC_FAIL_REJECT, ...).
//
// Mail from relay clients and authenticated users is our own users' and
// is not checked. Every DNS question goes through the gateway's resolver.
package authres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailguard/filters"
	"mailguard/resolver"
)

// Config configures the checks.
type Config struct {
	Resolver resolver.Resolver
	// Hostname is the authserv-id of the header we add; arriving headers
	// with the same authserv-id are removed (RFC 8601 section 5).
	Hostname string
	// Weights overrides the points of the tests (DefaultWeights); 0 turns
	// a test's score off (it is still logged).
	Weights map[string]float64
	// RejectDMARC refuses a message with 550 5.7.1 when it fails DMARC and
	// its domain's policy is p=reject for all its mail; otherwise such a
	// failure only scores.
	RejectDMARC bool
	// MaxBytes bounds how much of a message DKIM verification reads; a
	// signed message over it is not verified (dkim=policy). 0: no bound.
	MaxBytes int64
	// Timeout bounds the SPF evaluation (default 20s).
	Timeout time.Duration
}

// DefaultWeights are the points each test adds. SPF and DKIM failures
// weigh little alone (forwarding breaks SPF, mailing lists break DKIM);
// DMARC failure weighs by how strongly the domain asked for it.
func DefaultWeights() map[string]float64 {
	return map[string]float64{
		"SPF_PASS":              0,
		"SPF_NEUTRAL":           0,
		"SPF_FAIL":              1.0,
		"SPF_SOFTFAIL":          0.7,
		"SPF_TEMPERROR":         0,
		"SPF_PERMERROR":         0.1,
		"DKIM_VALID":            0,
		"DKIM_INVALID":          1.0,
		"DKIM_TEMPERROR":        0,
		"DMARC_PASS":            0,
		"DMARC_FAIL_NONE":       0.5,
		"DMARC_FAIL_QUARANTINE": 2.5,
		"DMARC_FAIL_REJECT":     4.0,
		"DMARC_TEMPERROR":       0,
	}
}

// Checker is the filter.
type Checker struct {
	cfg     Config
	dns     dnsAdapter
	weights map[string]float64
}

// DefaultTimeout bounds the SPF evaluation when Config.Timeout is zero; it
// is also sender_auth.spf_timeout's default.
const DefaultTimeout = 20 * time.Second

// New returns the filter. Weights naming an unknown test are an error.
func New(cfg Config) (*Checker, error) {
	if cfg.Resolver == nil {
		return nil, fmt.Errorf("authres: no resolver")
	}
	if cfg.Hostname == "" {
		return nil, fmt.Errorf("authres: no hostname for the authserv-id")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	w := DefaultWeights()
	for name, v := range cfg.Weights {
		if _, ok := w[name]; !ok {
			return nil, fmt.Errorf("authres: weight for unknown test %q", name)
		}
		w[name] = v
	}
	return &Checker{cfg: cfg, dns: dnsAdapter{cfg.Resolver}, weights: w}, nil
}

// Name implements filters.Filter.
func (c *Checker) Name() string { return "authres" }

const spfKey = "authres:spf"

// ourUser reports whether the mail comes from our own users, whom the
// checks do not concern.
func ourUser(t *filters.Transaction) bool { return t.Conn.MayRelay() }

// CheckRcpt starts the SPF check at the first recipient that the checks
// before this one let through, so its queries run while the message
// arrives, and mail refused at RCPT TO (relay attempts, unknown users,
// listed clients) costs no SPF queries.
func (c *Checker) CheckRcpt(ctx context.Context, t *filters.Transaction, rcpt string) filters.Verdict {
	if ourUser(t) {
		return filters.Pass()
	}
	if _, ok := t.Get(spfKey); !ok {
		c.startSPF(ctx, t)
	}
	return filters.Pass()
}

func (c *Checker) startSPF(ctx context.Context, t *filters.Transaction) *spfJob {
	job := &spfJob{done: make(chan struct{})}
	t.Set(spfKey, job)
	// The phase's context ends when CheckRcpt returns; the check lives on
	// under its own deadline, on a copy of the identities it needs.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
	ip, helo, from := t.Conn.ClientIP, t.Conn.Helo, t.MailFrom
	go func() {
		defer cancel()
		defer close(job.done)
		job.res = checkSPF(sctx, c.dns, ip, helo, from)
	}()
	return job
}

// CheckMessage completes the checks on the whole message.
func (c *Checker) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	// A header claiming to be our verdict can only be forged (or stale):
	// remove it whatever the client, before adding ours.
	t.StripHeaders(ours(c.cfg.Hostname))
	if ourUser(t) {
		return filters.Pass()
	}
	var job *spfJob
	if v, ok := t.Get(spfKey); ok {
		job = v.(*spfJob)
	} else {
		// A front end that skipped the RCPT phase: start it now.
		job = c.startSPF(ctx, t)
	}

	dkimRes, err := checkDKIM(ctx, c.dns, m, c.cfg.MaxBytes)
	if err != nil {
		// An unreadable message or header: the signatures cannot be
		// judged, which is not the sender's failure.
		t.Log.Warn("dkim verification failed", "filter", c.Name(), "err", err)
		dkimRes = []dkimResult{{value: "temperror"}}
	}
	spfRes, ok := job.wait(ctx)
	if !ok {
		spfRes = spfResult{value: "temperror", mailFrom: t.MailFrom, helo: t.Conn.Helo, err: ctx.Err()}
	}
	froms, err := fromValues(m)
	if err != nil {
		t.Log.Warn("reading the From fields failed", "filter", c.Name(), "err", err)
		froms = m.Header.Values("From")
	}
	dm := evalDMARC(ctx, c.dns.LookupTXT, froms, spfRes, dkimRes)

	t.AddHeader(headerName, formatResults(c.cfg.Hostname, c.results(spfRes, dkimRes, dm)))
	v := filters.Verdict{Scores: c.scores(spfRes, dkimRes, dm)}
	c.log(t, spfRes, dkimRes, dm)

	if c.cfg.RejectDMARC && dm.value == "fail" && dm.policy == "reject" && dm.full {
		reply := filters.ReplyPolicyReject.Format("unauthenticated mail from " + dm.from + " refused by its DMARC policy")
		r := filters.Refuse(reply, "dmarc=fail p=reject")
		r.Scores = v.Scores
		return r
	}
	v.Reason = "spf=" + spfRes.value + " dmarc=" + dm.value
	return v
}

// results renders the checks as Authentication-Results resinfos.
func (c *Checker) results(s spfResult, ds []dkimResult, dm dmarcResult) []result {
	sr := result{method: "spf", value: s.value}
	if s.mailFrom != "" {
		sr.props = [][2]string{{"smtp.mailfrom", s.mailFrom}}
	} else {
		sr.props = [][2]string{{"smtp.helo", s.helo}}
	}
	rs := []result{sr}
	if len(ds) == 0 {
		rs = append(rs, result{method: "dkim", value: "none"})
	}
	for _, d := range ds {
		r := result{method: "dkim", value: d.value, props: [][2]string{{"header.d", d.domain}, {"header.i", d.auid}}}
		if d.value != "temperror" {
			r.reason = d.reason
		}
		rs = append(rs, r)
	}
	each := dm.each
	if len(each) == 0 {
		each = []dmarcResult{dm}
	}
	// One resinfo per From domain (RFC 8601 allows a method to repeat),
	// so a mailbox filter sees which of the authors failed.
	for _, d := range each {
		dr := result{method: "dmarc", value: d.value, props: [][2]string{{"header.from", d.from}}}
		if d.policy != "" {
			dr.comment = "p=" + string(d.policy)
		}
		if d.value == "permerror" {
			dr.reason = d.reason
		}
		rs = append(rs, dr)
	}
	return rs
}

// scores turns the results into the tests that fired.
func (c *Checker) scores(s spfResult, ds []dkimResult, dm dmarcResult) []filters.Score {
	var tests []string
	tests = append(tests, "SPF_"+strings.ToUpper(s.value))
	if len(ds) > 0 {
		valid, invalid, temp := false, false, false
		for _, d := range ds {
			switch d.value {
			case "pass":
				valid = true
			case "fail", "permerror":
				invalid = true
			case "temperror":
				temp = true
			}
		}
		switch {
		case valid:
			tests = append(tests, "DKIM_VALID")
		case invalid:
			tests = append(tests, "DKIM_INVALID")
		case temp:
			tests = append(tests, "DKIM_TEMPERROR")
		}
	}
	switch dm.value {
	case "pass":
		tests = append(tests, "DMARC_PASS")
	case "fail":
		tests = append(tests, "DMARC_FAIL_"+strings.ToUpper(string(dm.policy)))
	case "temperror":
		tests = append(tests, "DMARC_TEMPERROR")
	}
	var out []filters.Score
	for _, name := range tests {
		if p := c.weights[name]; p != 0 {
			out = append(out, filters.Score{Test: name, Points: p})
		}
	}
	return out
}

// log writes the decision line, with the errors behind any temperror or
// permerror, which the header leaves out.
func (c *Checker) log(t *filters.Transaction, s spfResult, ds []dkimResult, dm dmarcResult) {
	args := []any{"filter", c.Name(), "spf", s.value, "spf_domain", s.domain}
	if s.err != nil {
		args = append(args, "spf_err", s.err.Error())
	}
	for i, d := range ds {
		args = append(args, fmt.Sprintf("dkim%d", i), d.value+" d="+d.domain)
		if d.reason != "" {
			args = append(args, fmt.Sprintf("dkim%d_reason", i), d.reason)
		}
	}
	args = append(args, "dmarc", dm.value, "from_domain", dm.from)
	if dm.policy != "" {
		args = append(args, "dmarc_policy", string(dm.policy))
	}
	if dm.reason != "" {
		args = append(args, "dmarc_reason", dm.reason)
	}
	for i, d := range dm.each {
		v := d.value
		if d.policy != "" {
			v += " p=" + string(d.policy)
		}
		args = append(args, fmt.Sprintf("dmarc%d", i), v+" from="+d.from)
	}
	// The message's final line carries the tests; this is the detail.
	t.Log.Debug("authentication results", args...)
}
