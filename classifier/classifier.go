package classifier

import (
	"context"
	"fmt"
	"math"
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
	// spam, from the Calibration, at most 0.5 when the verdict rests on too
	// few facts (see evidenceCap); the BAYES_* band is read off it. 0.5
	// when the classifier is inactive or found no clue.
	Calibrated float64
	// Facts is how many separate facts the clues rest on (see Facts).
	Facts int
	// Clues are the tokens combined, most extreme first.
	Clues []Clue
	// Active is false until MinLearned ham and spam have been learnt.
	Active bool
	// Learnt are the message counts the verdict was based on.
	Learnt Totals
}

// tieMaxCalibrated caps the calibrated probability of a message in the
// tie band, whatever the calibration says: near certainty (BAYES_999, the
// quarantine on its own) takes Fisher's own decision, never the balance
// alone. On the SpamAssassin corpus, with the calibration fitted on nine
// tenths of the held-out scores and applied to the tenth, one ham whose
// balance lay just under the band's edge reached BAYES_999 without it.
const tieMaxCalibrated = 0.995

// limitClues keeps at most max of clues (sorted most extreme first). On
// a long message the limit would otherwise fill with body text alone, most
// of it word pairs that repeat their words: the header and structure
// clues (sender, list, relays, form) are kept first, pairs take at most
// half of the limit, and the rest goes by extremity. The order of the
// kept clues is kept.
func limitClues(clues []Clue, max int) []Clue {
	if len(clues) <= max {
		return clues
	}
	keep := make([]bool, len(clues))
	n := 0
	for i, cl := range clues {
		if n < max && isHeaderClue(cl.Token) {
			keep[i] = true
			n++
		}
	}
	pairs := 0
	for i, cl := range clues {
		if n == max {
			break
		}
		if keep[i] {
			continue
		}
		if IsPair(cl.Token) {
			if pairs >= max/2 {
				continue
			}
			pairs++
		}
		keep[i] = true
		n++
	}
	out := clues[:0]
	for i, cl := range clues {
		if keep[i] {
			out = append(out, cl)
		}
	}
	return out
}

// isHeaderClue reports whether a token comes from the header or the
// message's form rather than from its text: it has a "name:" prefix that
// is not one of the text's own (pairs, links, addresses, long words).
func isHeaderClue(tok string) bool {
	i := strings.IndexByte(tok, ':')
	if i <= 0 {
		return false
	}
	switch tok[:i+1] {
	case pairPrefix, "url:", "email:", "skip:":
		return false
	}
	return true
}

// Facts returns how many separate facts clues rest on: each word or
// link of the text counts once; a word pair counts once when neither of
// its words is a clue itself (else it repeats them); and the clues of one
// header field or one kind of form (from:dom:net and from:dom:example.net,
// received:203.0 and received:203.0.113) count once together, since they
// say one thing.
func Facts(clues []Clue) int {
	tokens := make(map[string]bool, len(clues))
	for _, cl := range clues {
		tokens[cl.Token] = true
	}
	n := 0
	kinds := map[string]bool{}
	for _, cl := range clues {
		switch {
		case IsPair(cl.Token):
			a, b, _ := strings.Cut(strings.TrimPrefix(cl.Token, pairPrefix), " ")
			if !tokens[a] && !tokens[b] {
				n++
			}
		case isHeaderClue(cl.Token):
			kind := cl.Token[:strings.IndexByte(cl.Token, ':')]
			if !kinds[kind] {
				kinds[kind] = true
				n++
			}
		default:
			n++
		}
	}
	return n
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
	scratch := getRankScratch()
	defer putRankScratch(scratch)
	cands := scratch.cands[:0]
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
	scratch.cands = cands
	clues := scratch.rank()
	clues = limitClues(clues, c.cfg.MaxClues)
	probs := make([]float64, len(clues))
	for i, cl := range clues {
		probs[i] = cl.Prob
	}
	l, logQS, logQH := fisher(probs)
	if math.Abs(l) < tieBand {
		// In the tie band the pairs do not vote: see tieBand.
		var words []float64
		for _, cl := range clues {
			if !IsPair(cl.Token) {
				words = append(words, cl.Prob)
			}
		}
		if len(words) > 0 && len(words) < len(probs) {
			_, logQS, logQH = fisher(words)
		}
	}
	res.LogOdds = rankOdds(l, logQS, logQH)
	res.Prob = probability(res.LogOdds)
	res.Clues = clues
	res.Facts = Facts(clues)
	switch {
	case res.Prob >= c.cfg.SpamCutoff:
		res.Label = Spam
	case res.Prob < c.cfg.HamCutoff:
		res.Label = Ham
	}
	if len(clues) > 0 {
		// No clue at all is no evidence, not a message ranked at 0.
		res.Calibrated = c.cfg.Calibration.Prob(res.LogOdds)
		if math.Abs(res.LogOdds) < tieBand {
			res.Calibrated = math.Min(res.Calibrated, tieMaxCalibrated)
		}
		res.Calibrated = math.Min(res.Calibrated, evidenceCap(res.Facts, res.Label))
	}
	return res, nil
}

// The calibration is fitted on whole messages, nearly all of which hold
// dozens of facts; on that corpus every message ranked even slightly on
// the spam side was spam, so it maps any positive log-odds to near
// certainty. A short message the classifier knows little about (a
// three-line note, one line, a header alone) is not near-certain spam
// because its few clues lean that way: its calibrated probability is at
// most 0.5 (BAYES_50, as with no clue at all) when its verdict rests on
// fewer than minFacts separate facts (see Facts), or on fewer than
// unsureMinFacts while Fisher's own probability is between the cutoffs
// (Label Unsure: the even zone, the tie band included).
//
// The ham side is left as calibrated: a short message whose clues say ham
// loses points, which cannot tag it. On the SpamAssassin corpus 10-fold
// the caps took 5 spam and 2 ham out of the bands that tag on their own
// (docs/classifier.md); 12 facts instead of 10 took 9 spam, 8 took 4.
const (
	minFacts       = 4
	unsureMinFacts = 10
)

// evidenceCap returns the highest calibrated probability a verdict resting
// on facts separate facts, with Fisher's label, may take.
func evidenceCap(facts int, label Label) float64 {
	if facts < minFacts || facts < unsureMinFacts && label == Unsure {
		return 0.5
	}
	return 1
}
