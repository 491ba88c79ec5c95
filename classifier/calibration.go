package classifier

import (
	"fmt"
	"math"
	"sort"
)

// CalPoint is one step of a Calibration: messages ranked at log-odds Odds
// or over (up to the next step) were spam with probability Prob.
type CalPoint struct {
	Odds float64 `yaml:"odds" json:"odds"`
	Prob float64 `yaml:"prob" json:"prob"`
}

// Calibration maps the log-odds a message is ranked by (Result.LogOdds) to
// the probability that a message so ranked is spam, as measured on mail
// the classifier had not learnt: a non-decreasing step function, steps in
// increasing Odds. Fisher's combination says on which side of 0.5 a
// message lies far better than how far (most messages end up at 0 or 1,
// and a fifth of the spam just over 0.5), so the BAYES_* bands are read
// off the calibrated probability, not off Result.Prob.
type Calibration []CalPoint

// Prob returns the calibrated probability at log-odds l: the Prob of the
// last step whose Odds l reaches, the first step's below it. An empty
// calibration returns the uncalibrated probability.
func (c Calibration) Prob(l float64) float64 {
	if len(c) == 0 {
		return probability(l)
	}
	i := sort.Search(len(c), func(i int) bool { return c[i].Odds > l })
	if i == 0 {
		return c[0].Prob
	}
	return c[i-1].Prob
}

// Validate reports the first step out of order or out of range.
func (c Calibration) Validate() error {
	for i, p := range c {
		if math.IsNaN(p.Odds) || math.IsInf(p.Odds, 0) {
			return fmt.Errorf("step %d: odds must be a finite number, got %v", i+1, p.Odds)
		}
		if !(p.Prob >= 0 && p.Prob <= 1) {
			return fmt.Errorf("step %d: prob must be between 0 and 1, got %v", i+1, p.Prob)
		}
		if i > 0 && p.Odds <= c[i-1].Odds {
			return fmt.Errorf("step %d: odds must increase, got %v after %v", i+1, p.Odds, c[i-1].Odds)
		}
		if i > 0 && p.Prob < c[i-1].Prob {
			return fmt.Errorf("step %d: prob must not decrease, got %v after %v", i+1, p.Prob, c[i-1].Prob)
		}
	}
	return nil
}

// minCalBlock is the fewest messages a step of a fitted calibration holds:
// a step measured on a handful of messages says more about them than about
// mail to come.
const minCalBlock = 30

// FitCalibration fits a calibration to held-out log-odds and true classes
// by isotonic regression (pool adjacent violators), with steps of at least
// minCalBlock messages. Each step's probability is its spam fraction pulled
// half a message towards 0.5 ((spam + 0.5) / (n + 1)), so that a step of
// only spam or only ham still leaves room for the message it has not seen.
// Fewer than 2*minCalBlock messages give no calibration.
func FitCalibration(odds []float64, spam []bool) Calibration {
	if len(odds) != len(spam) || len(odds) < 2*minCalBlock {
		return nil
	}
	idx := make([]int, len(odds))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return odds[idx[a]] < odds[idx[b]] })
	type block struct {
		lo      float64
		n, spam float64
	}
	rate := func(b block) float64 { return b.spam / b.n }
	var bs []block
	for k := 0; k < len(idx); {
		// Tied log-odds are one block: a step cannot split them.
		b := block{lo: odds[idx[k]]}
		for ; k < len(idx) && odds[idx[k]] == b.lo; k++ {
			b.n++
			if spam[idx[k]] {
				b.spam++
			}
		}
		bs = append(bs, b)
		for len(bs) > 1 && rate(bs[len(bs)-2]) >= rate(bs[len(bs)-1]) {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			bs[len(bs)-2] = block{lo: a.lo, n: a.n + b.n, spam: a.spam + b.spam}
			bs = bs[:len(bs)-1]
		}
	}
	// Merge steps that are too small into the neighbour nearest in rate;
	// merging neighbours keeps the steps increasing.
	for {
		small := -1
		for i, b := range bs {
			if b.n < minCalBlock && (small < 0 || b.n < bs[small].n) {
				small = i
			}
		}
		if small < 0 || len(bs) == 1 {
			break
		}
		j := small - 1
		if j < 0 || (small+1 < len(bs) && rate(bs[small+1])-rate(bs[small]) < rate(bs[small])-rate(bs[j])) {
			j = small + 1
		}
		lo, hi := min(small, j), max(small, j)
		bs[lo] = block{lo: bs[lo].lo, n: bs[lo].n + bs[hi].n, spam: bs[lo].spam + bs[hi].spam}
		bs = append(bs[:hi], bs[hi+1:]...)
	}
	c := make(Calibration, len(bs))
	for i, b := range bs {
		p := (b.spam + 0.5) / (b.n + 1)
		if i > 0 && p < c[i-1].Prob {
			p = c[i-1].Prob // a small step pulled further towards 0.5
		}
		c[i] = CalPoint{Odds: b.lo, Prob: p}
	}
	return c
}
