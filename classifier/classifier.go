package classifier

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Clue is a token that counted in a verdict, with its f(w).
type Clue struct {
	Token string
	Prob  float64
}

// Result is the classifier's opinion on one message.
type Result struct {
	// Prob is the probability that the message is spam, sigmoid(LogOdds);
	// 0.5 when the classifier is inactive. Where a float64 cannot hold
	// sigmoid(LogOdds) distinctly (it would round to exactly 1, 0 or 0.5),
	// Prob is moved by less than 1e-13 so that it still orders messages as
	// LogOdds does (see probability).
	Prob float64
	// LogOdds is ln(p/(1-p)) for Fisher's probability p, computed without
	// rounding, except within ±0.001 of 0 (p within 0.00025 of 0.5), where
	// the tie is broken by weighing the spam evidence against the ham
	// evidence (see tieBand).
	LogOdds float64
	Label   Label
	// Calibrated is the probability that a message ranked at LogOdds is
	// spam, from the Calibration; the BAYES_* band is read off it. 0.5
	// when the classifier is inactive.
	Calibrated float64
	// Clues are the tokens combined, most extreme first.
	Clues []Clue
	// Active is false until MinLearned ham and spam have been learnt.
	Active bool
	// Learnt are the message counts the verdict was based on.
	Learnt Totals
}

// Classifier scores token lists against a Store.
type Classifier struct {
	cfg Config
	st  Store
}

// New returns a classifier over st. A cfg failing Validate is replaced
// field by field with the defaults, so a bad setting cannot silence it.
func New(cfg Config, st Store) *Classifier {
	def := DefaultConfig()
	if !(cfg.S > 0) {
		cfg.S = def.S
	}
	if !(cfg.X > 0 && cfg.X < 1) {
		cfg.X = def.X
	}
	if !(cfg.MinDev >= 0 && cfg.MinDev < 0.5) {
		cfg.MinDev = def.MinDev
	}
	if cfg.MaxClues < 1 {
		cfg.MaxClues = def.MaxClues
	}
	if !(cfg.HamCutoff >= 0 && cfg.SpamCutoff <= 1 && cfg.HamCutoff <= cfg.SpamCutoff) {
		cfg.HamCutoff, cfg.SpamCutoff = def.HamCutoff, def.SpamCutoff
	}
	if cfg.MinLearned < 0 {
		cfg.MinLearned = def.MinLearned
	}
	if len(cfg.Calibration) == 0 || cfg.Calibration.Validate() != nil {
		cfg.Calibration = def.Calibration
	}
	return &Classifier{cfg: cfg, st: st}
}

// Config returns the settings in use.
func (c *Classifier) Config() Config { return c.cfg }

// Store returns the token store.
func (c *Classifier) Store() Store { return c.st }

// Learn passes docs to the store; it returns how many changed the counts.
func (c *Classifier) Learn(ctx context.Context, docs ...Doc) (int, error) {
	n, err := c.st.Learn(ctx, docs...)
	if err != nil {
		return n, fmt.Errorf("learn: %w", err)
	}
	return n, nil
}

// Classify scores a message's distinct tokens (from Tokenize).
func (c *Classifier) Classify(ctx context.Context, tokens []string) (Result, error) {
	counts, tot, err := c.st.Counts(ctx, tokens)
	if err != nil {
		return Result{Prob: 0.5, Calibrated: 0.5, Label: Unsure}, fmt.Errorf("classify: %w", err)
	}
	if len(counts) != len(tokens) {
		return Result{Prob: 0.5, Calibrated: 0.5, Label: Unsure}, fmt.Errorf("classify: store answered %d counts for %d tokens", len(counts), len(tokens))
	}
	res := Result{Prob: 0.5, Calibrated: 0.5, Label: Unsure, Learnt: tot}
	min := uint64(c.cfg.MinLearned)
	if tot.Ham < min || tot.Spam < min || tot.Ham == 0 || tot.Spam == 0 {
		return res, nil
	}
	res.Active = true
	type cand struct {
		dev float64
		Clue
	}
	cands := make([]cand, 0, len(tokens))
	for i, tok := range tokens {
		cn := counts[i]
		if cn.Spam == 0 && cn.Ham == 0 {
			if math.Abs(c.cfg.X-0.5) < c.cfg.MinDev {
				continue
			}
		}
		f := robinson(cn, tot, c.cfg.S, c.cfg.X)
		dev := math.Abs(f - 0.5)
		if dev < c.cfg.MinDev {
			continue
		}
		cands = append(cands, cand{dev, Clue{Token: tok, Prob: f}})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dev != b.dev {
			return cmp.Compare(b.dev, a.dev)
		}
		return strings.Compare(a.Token, b.Token)
	})
	if len(cands) > c.cfg.MaxClues {
		cands = cands[:c.cfg.MaxClues]
	}
	clues := make([]Clue, len(cands))
	for i, cd := range cands {
		clues[i] = cd.Clue
	}
	probs := make([]float64, len(clues))
	for i, cl := range clues {
		probs[i] = cl.Prob
	}
	res.LogOdds = rankOdds(fisher(probs))
	res.Prob = probability(res.LogOdds)
	if len(clues) > 0 {
		// No clue at all is no evidence, not a message ranked at 0.
		res.Calibrated = c.cfg.Calibration.Prob(res.LogOdds)
	}
	res.Clues = clues
	switch {
	case res.Prob >= c.cfg.SpamCutoff:
		res.Label = Spam
	case res.Prob < c.cfg.HamCutoff:
		res.Label = Ham
	}
	return res, nil
}
