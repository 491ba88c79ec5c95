package classifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"mailguard/filters"
	"mailguard/metrics"
)

// TestInactive is the 0-point test the filter adds while fewer than
// MinLearned ham or spam have been learnt, so X-Spam-Status shows why no
// BAYES_* test fired.
const TestInactive = "BAYES_INACTIVE"

// bands map a calibrated probability (Result.Calibrated) to SpamAssassin's
// test names, with BAYES_999 added above BAYES_99 as SpamAssassin 3.4 did:
// a message falls in the first band whose lower bound it reaches.
var bands = []struct {
	name string
	min  float64
}{
	{"BAYES_999", 0.999}, {"BAYES_99", 0.99}, {"BAYES_95", 0.95}, {"BAYES_80", 0.80}, {"BAYES_60", 0.60},
	{"BAYES_50", 0.40}, {"BAYES_40", 0.20}, {"BAYES_20", 0.05}, {"BAYES_05", 0.01},
	{"BAYES_00", 0},
}

// DefaultWeights are the points of each BAYES_* test. They are
// mailguard's own, not SpamAssassin's: SpamAssassin's BAYES_99 (3.5) is
// set for a total of hundreds of rules, where a few others always join in;
// here a handful of header checks are all there is, so the classifier's
// confidence must act on its own. With nothing else firing, a message the
// classifier is near certain of (BAYES_999) reaches the quarantine
// threshold (10), one it is 95% sure of is tagged (5), and one it is 80%
// sure of is tagged when one more test of a point fires; ham bands
// subtract enough that weak header tests (MISSING_MID 0.5, MIME_HTML_ONLY
// 1.1, DATE_IN_PAST 1.0) do not tag a message the classifier calls ham.
// docs/classifier.md has the measurements (mailguard eval -chain).
func DefaultWeights() map[string]float64 {
	return map[string]float64{
		"BAYES_00": -3.0, "BAYES_05": -2.0, "BAYES_20": -1.0, "BAYES_40": -0.5,
		"BAYES_50": 0.8, "BAYES_60": 2.0, "BAYES_80": 4.0, "BAYES_95": 5.0, "BAYES_99": 7.0,
		"BAYES_999": 10.0,
	}
}

// Bands returns the names of the BAYES_* tests, most spammy first.
func Bands() []string {
	names := make([]string, len(bands))
	for i, b := range bands {
		names[i] = b.name
	}
	return names
}

// TestName returns the BAYES_* test a calibrated spam probability falls
// under.
func TestName(prob float64) string {
	for _, b := range bands {
		if prob >= b.min {
			return b.name
		}
	}
	return "BAYES_00"
}

// Autolearn says when the gateway learns from the mail it judges. The
// classifier's own verdict never suffices: learning from it would only
// entrench its mistakes.
type Autolearn struct {
	Enabled bool
	// SpamScore: a message whose score without the BAYES_* tests is at or
	// over it is learnt as spam.
	SpamScore float64
	// HamMaxScore: a message from an authenticated or allow-listed sender
	// whose score without the BAYES_* tests is at or under it is learnt as
	// ham.
	HamMaxScore float64
}

// DefaultAutolearn is off, with SpamAssassin-like thresholds once enabled.
func DefaultAutolearn() Autolearn { return Autolearn{SpamScore: 12, HamMaxScore: 0} }

// FilterConfig builds the chain filter.
type FilterConfig struct {
	// Classifier scores the messages; when nil, Open provides it on the
	// first message (and again after a failure), so that building a chain
	// never touches the token database.
	Classifier *Classifier
	Open       func() (*Classifier, error)
	// Weights are the points of each BAYES_* test; a name missing here
	// takes its default weight.
	Weights map[string]float64
	// MaxBytes bounds how much of a message is read (default 1 MiB).
	MaxBytes  int64
	Autolearn Autolearn
	Log       *slog.Logger
}

// DefaultMaxBytes is how much of a message the filter reads by default.
const DefaultMaxBytes = 1 << 20

// Filter scores messages at the end of DATA under the BAYES_* tests and,
// when enabled, learns from those the rest of the chain judged clearly.
type Filter struct {
	cfg     FilterConfig
	cl      atomic.Pointer[Classifier]
	weights map[string]float64
	learn   chan struct{} // bounds learning in flight
}

// NewFilter returns the chain filter.
func NewFilter(cfg FilterConfig) *Filter {
	w := DefaultWeights()
	for k, v := range cfg.Weights {
		w[k] = v
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	f := &Filter{cfg: cfg, weights: w, learn: make(chan struct{}, 4)}
	if cfg.Classifier != nil {
		f.cl.Store(cfg.Classifier)
	}
	return f
}

// classifier returns the classifier, opening it on first use.
func (f *Filter) classifier() (*Classifier, error) {
	if c := f.cl.Load(); c != nil {
		return c, nil
	}
	if f.cfg.Open == nil {
		return nil, errors.New("no classifier configured")
	}
	c, err := f.cfg.Open()
	if err != nil {
		return nil, err
	}
	f.cl.CompareAndSwap(nil, c)
	return f.cl.Load(), nil
}

// Name implements filters.Filter.
func (f *Filter) Name() string { return "classifier" }

// verdictKey holds what autolearning needs of a message: its digest and
// tokens.
const verdictKey = "classifier:verdict"

type verdict struct {
	digest string
	tokens []string
}

// CheckMessage implements filters.MessageChecker.
func (f *Filter) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	log := t.Log
	if log == nil {
		log = f.cfg.Log
	}
	cl, err := f.classifier()
	if err != nil {
		log.Error("classifier unavailable; no opinion", "err", err)
		return filters.Pass()
	}
	raw, err := m.Head(f.cfg.MaxBytes)
	if err != nil {
		log.Warn("classifier cannot read the message; no opinion", "err", err)
		return filters.Pass()
	}
	start := time.Now()
	tokens := Tokenize(raw)
	res, err := cl.Classify(ctx, tokens)
	metrics.ClassifierDuration.WithLabelValues().Observe(time.Since(start).Seconds())
	if err != nil {
		log.Warn("classifier failed; no opinion", "err", err)
		metrics.ClassifierErrors.Inc()
		return filters.Pass()
	}
	if f.cfg.Autolearn.Enabled {
		// The digest hashes the whole message; only learning needs it.
		t.Set(verdictKey, &verdict{digest: Digest(raw), tokens: tokens})
	}
	if !res.Active {
		log.Debug("classifier inactive", "learnt_ham", res.Learnt.Ham, "learnt_spam", res.Learnt.Spam, "needed", cl.Config().MinLearned)
		return filters.Scored(TestInactive, 0, fmt.Sprintf("learnt %d ham and %d spam of the %d of each needed", res.Learnt.Ham, res.Learnt.Spam, cl.Config().MinLearned))
	}
	name := TestName(res.Calibrated)
	t.Set(evidenceKey, Evidence{Prob: res.Calibrated, Clues: res.Clues[:min(len(res.Clues), maxEvidence)]})
	metrics.ClassifierResults.WithLabelValues(res.Label.String()).Inc()
	// The message's final line carries the BAYES_* test; this is the detail.
	log.Debug("classifier", "test", name, "calibrated", res.Calibrated, "prob", res.Prob, "label", res.Label.String(), "clues", topClues(res.Clues, 5))
	return filters.Scored(name, f.weights[name], fmt.Sprintf("bayes probability %.4f (calibrated)", res.Calibrated))
}

// evidenceKey holds the Evidence of a message's verdict, for the
// quarantine to show a reviewer.
const evidenceKey = "classifier:evidence"

// maxEvidence is how many clues Evidence keeps.
const maxEvidence = 30

// Evidence is what decided the classifier's opinion on a message: its spam
// probability (0 to 1) and the most extreme clues, most extreme first.
type Evidence struct {
	Prob  float64
	Clues []Clue
}

// EvidenceOf returns the evidence the classifier left in t, if it gave an
// opinion on t's message.
func EvidenceOf(t *filters.Transaction) (Evidence, bool) {
	v, ok := t.Get(evidenceKey)
	if !ok {
		return Evidence{}, false
	}
	e, ok := v.(Evidence)
	return e, ok
}

func topClues(cl []Clue, n int) string {
	if len(cl) > n {
		cl = cl[:n]
	}
	parts := make([]string, len(cl))
	for i, c := range cl {
		parts[i] = fmt.Sprintf("%q:%.3f", c.Token, c.Prob)
	}
	return strings.Join(parts, " ")
}

// ObserveOutcome implements filters.OutcomeObserver: the autolearning,
// judged on the score of every test but the classifier's own.
func (f *Filter) ObserveOutcome(ctx context.Context, t *filters.Transaction, out filters.Outcome) {
	al := f.cfg.Autolearn
	if !al.Enabled {
		return
	}
	v, ok := t.Get(verdictKey)
	if !ok {
		return
	}
	vd := v.(*verdict)
	cl := f.cl.Load()
	if cl == nil {
		return
	}
	var other float64
	for _, s := range out.Tests {
		if strings.HasPrefix(s.Test, "BAYES_") {
			continue
		}
		if s.Test == "GTUBE" {
			return // a test message says nothing about real mail
		}
		other += s.Points
	}
	var spam bool
	switch {
	case other >= al.SpamScore:
		spam = true
	case (t.Conn.AuthUser != "" || t.AllowListed()) && other <= al.HamMaxScore:
		spam = false
	default:
		return
	}
	log := t.Log
	if log == nil {
		log = f.cfg.Log
	}
	select {
	case f.learn <- struct{}{}:
	default:
		log.Warn("classifier autolearn skipped: learning is behind", "spam", spam)
		return
	}
	// The client is waiting for its reply: learn in the background, on a
	// deadline of its own (the transaction's context ends with it).
	go func() {
		defer func() { <-f.learn }()
		lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := cl.Learn(lctx, Doc{Digest: vd.digest, Spam: spam, Tokens: vd.tokens})
		if err != nil {
			log.Warn("classifier autolearn failed", "spam", spam, "err", err)
			return
		}
		log.Info("classifier autolearn", "spam", spam, "score_without_bayes", other, "changed", n)
	}()
}
