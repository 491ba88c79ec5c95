package filters

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// CheckMode says what a malformed-message check does when it fires.
type CheckMode string

// The modes of a malformed-message check.
const (
	ModeReject CheckMode = "reject" // 550 5.6.0 naming the fault
	ModeScore  CheckMode = "score"  // add the kind's test weight
	ModeOff    CheckMode = "off"
)

// The kinds of malformed message (SPEC.md), as named in the configuration,
// and the test name each scores under when its mode is "score".
var malformedKinds = []struct{ key, test string }{
	{"nul", "MALFORMED_NUL"},
	{"long_line", "MALFORMED_LONG_LINE"},
	{"header_syntax", "MALFORMED_HEADER"},
	{"missing_from", "MISSING_FROM"},
	{"duplicate_header", "DUPLICATE_HEADER"},
	{"multipart_boundary", "MULTIPART_NO_BOUNDARY"},
}

// defaultWeights are the points of each scored test. They follow
// SpamAssassin's scores for its tests of the same name or purpose, so a
// message scores about what an operator used to SpamAssassin expects.
var defaultWeights = map[string]float64{
	"MISSING_DATE":        1.4,
	"MISSING_MID":         0.5,
	"INVALID_DATE":        1.0,
	"DATE_IN_PAST":        1.0,
	"DATE_IN_FUTURE":      1.5,
	"SPOOFED_LOCAL_FROM":  2.0,
	"HELO_LOCAL_NAME":     3.0,
	"HELO_IP_MISMATCH":    2.0,
	"FORGED_RECEIVED":     2.0,
	"HEADER_8BIT":         1.0,
	"MIME_HTML_ONLY":      1.1,
	"SUBJ_ALL_CAPS":       1.0,
	"MANY_RECIPIENTS":     1.5,
	"GTUBE":               1000,
	"MALFORMED_NUL":       3.0,
	"MALFORMED_LONG_LINE": 1.0,
	"MALFORMED_HEADER":    2.0,
	"MISSING_FROM":        2.0,
	"DUPLICATE_HEADER":    2.0,
	// SpamAssassin has no score for it; a message without boundary cannot
	// be read as its sender meant, hence as much as a bad header line.
	"MULTIPART_NO_BOUNDARY": 2.0,
}

// MalformedKinds returns the configuration keys of the malformed-message
// checks, in the order they are checked.
func MalformedKinds() []string {
	ks := make([]string, len(malformedKinds))
	for i, k := range malformedKinds {
		ks[i] = k.key
	}
	return ks
}

// DefaultCheckWeights returns the default points of every test the message
// checks can score, by test name.
func DefaultCheckWeights() map[string]float64 {
	w := make(map[string]float64, len(defaultWeights))
	for k, v := range defaultWeights {
		w[k] = v
	}
	return w
}

// ChecksConfig configures the end-of-data message checks.
type ChecksConfig struct {
	// Hostname is this gateway's name, as in its banner and Received:.
	Hostname string
	// Domains are the local domains.
	Domains []string
	// Malformed sets the mode of each malformed kind by its key
	// (MalformedKinds); a missing key rejects, as SPEC.md requires.
	Malformed map[string]CheckMode
	// Weights override the default points by test name; 0 turns a test off.
	Weights map[string]float64
	// DatePast and DateFuture are how far the Date: header may lie from the
	// time of arrival before DATE_IN_PAST or DATE_IN_FUTURE fire.
	DatePast, DateFuture time.Duration
	// ManyRecipients is how many To and Cc addresses are still fine.
	ManyRecipients int
	// MIME bounds the walk over the body's parts.
	MIME MIMELimits
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MIMELimits bound the work the MIME walk does on hostile input. When one
// is reached the walk stops; what it saw so far still counts.
type MIMELimits struct {
	// MaxDepth is how deep multiparts and attached messages may nest.
	MaxDepth int
	// MaxParts is how many parts are looked at, in all.
	MaxParts int
	// MaxDecodedBytes is how many decoded bytes of text parts are scanned.
	MaxDecodedBytes int64
}

// Defaults of the checks that are not weights.
const (
	DefaultDatePast        = 96 * time.Hour
	DefaultDateFuture      = 96 * time.Hour
	DefaultManyRecipients  = 20
	DefaultMIMEMaxDepth    = 20
	DefaultMIMEMaxParts    = 1000
	DefaultMIMEMaxDecoded  = 32 << 20
	gtubeString            = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
	malformedReplyMaxBytes = 200
)

// messageChecks is the end-of-data check of a message's form: the malformed
// kinds of SPEC.md, header and body tests that add score, and GTUBE.
type messageChecks struct {
	cfg     ChecksConfig
	weights map[string]float64
	domains map[string]bool
}

// NewMessageChecks builds the message checks.
func NewMessageChecks(cfg ChecksConfig) Filter {
	c := &messageChecks{cfg: cfg, weights: DefaultCheckWeights(), domains: map[string]bool{}}
	for k, v := range cfg.Weights {
		c.weights[k] = v
	}
	for _, d := range cfg.Domains {
		c.domains[normName(d)] = true
	}
	c.cfg.Hostname = normName(cfg.Hostname)
	if c.cfg.DatePast <= 0 {
		c.cfg.DatePast = DefaultDatePast
	}
	if c.cfg.DateFuture <= 0 {
		c.cfg.DateFuture = DefaultDateFuture
	}
	if c.cfg.ManyRecipients <= 0 {
		c.cfg.ManyRecipients = DefaultManyRecipients
	}
	if c.cfg.MIME.MaxDepth <= 0 {
		c.cfg.MIME.MaxDepth = DefaultMIMEMaxDepth
	}
	if c.cfg.MIME.MaxParts <= 0 {
		c.cfg.MIME.MaxParts = DefaultMIMEMaxParts
	}
	if c.cfg.MIME.MaxDecodedBytes <= 0 {
		c.cfg.MIME.MaxDecodedBytes = DefaultMIMEMaxDecoded
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	return c
}

func (c *messageChecks) Name() string { return "checks" }

// CheckMessage runs the header checks first, then one streaming pass over
// the body for the MIME walk and GTUBE.
func (c *messageChecks) CheckMessage(ctx context.Context, t *Transaction, m *Message) Verdict {
	var v Verdict
	faults := headerFaults(m)
	if rejectFirst(c, faults, &v) {
		return v
	}
	for _, s := range c.headerTests(t, m) {
		c.score(&v, s.test, s.reason)
	}
	log := t.Log
	if log == nil {
		log = slog.Default()
	}
	body, err := walkBody(ctx, m, c.cfg.MIME)
	if err != nil {
		// The message could not be read back from the spool: that is ours
		// to fix, not the sender's; say nothing rather than guess.
		log.Error("message checks: read body", "filter", c.Name(), "err", err)
	}
	if body.noBoundary != "" {
		if rejectFirst(c, []fault{{"multipart_boundary", body.noBoundary}}, &v) {
			return v
		}
	}
	if body.limit != "" {
		log.Warn("message checks: MIME walk stopped", "filter", c.Name(), "limit", body.limit)
	}
	if body.html && !body.plain {
		c.score(&v, "MIME_HTML_ONLY", "text/html without text/plain")
	}
	if body.gtube {
		c.score(&v, "GTUBE", "GTUBE test string in body")
	}
	return v
}

// rejectFirst applies each fault's mode: scored faults add their test, and
// the first fault set to reject refuses the message naming it.
func rejectFirst(c *messageChecks, faults []fault, v *Verdict) bool {
	for _, f := range faults {
		switch c.mode(f.kind) {
		case ModeOff:
		case ModeScore:
			c.score(v, testOf(f.kind), f.text)
		default:
			text := f.text
			if len(text) > malformedReplyMaxBytes {
				text = text[:malformedReplyMaxBytes]
			}
			*v = Refuse(ReplyMalformed.Format(text), malformedReason+f.kind+": "+f.text)
			return true
		}
	}
	return false
}

// malformedReason opens the reason of a malformed-message refusal, before
// the kind's key.
const malformedReason = "malformed "

// MalformedKind returns the configuration key of the malformed kind
// (MalformedKinds) a verdict refuses a message for, or "" when it is no
// such refusal.
func MalformedKind(v Verdict) string {
	if v.Action != Reject || v.Reply.Enhanced != ReplyMalformed.Enhanced {
		return ""
	}
	rest, ok := strings.CutPrefix(v.Reason, malformedReason)
	if !ok {
		return ""
	}
	kind, _, _ := strings.Cut(rest, ":")
	return kind
}

func (c *messageChecks) mode(kind string) CheckMode {
	if m, ok := c.cfg.Malformed[kind]; ok && m != "" {
		return m
	}
	return ModeReject
}

func (c *messageChecks) score(v *Verdict, test, reason string) {
	p := c.weights[test]
	if p == 0 {
		return
	}
	v.Scores = append(v.Scores, Score{Test: test, Points: p})
	if v.Reason != "" {
		v.Reason += "; "
	}
	v.Reason += fmt.Sprintf("%s (%s)", test, reason)
}

func testOf(kind string) string {
	for _, k := range malformedKinds {
		if k.key == kind {
			return k.test
		}
	}
	return strings.ToUpper(kind)
}

// normName lower-cases a domain name and drops a trailing dot.
func normName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}
