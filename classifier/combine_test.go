package classifier

import (
	"math"
	"testing"
)

func TestChi2QKnownValues(t *testing.T) {
	tests := []struct {
		x    float64
		n    int // degrees of freedom are 2n
		want float64
	}{
		{2, 1, math.Exp(-1)},     // 2 df: Q = e^(-x/2)
		{4, 2, 3 * math.Exp(-2)}, // 4 df: Q = e^(-m)(1+m), m = 2
		{9.210340372, 1, 0.01},   // 2 df, 99th percentile
		{18.307038, 5, 0.05},     // 10 df, 95th percentile
		{31.410433, 10, 0.05},    // 20 df, 95th percentile
		{37.566235, 10, 0.01},    // 20 df, 99th percentile
		{0, 3, 1},                // nothing observed
		{200, 10, 2.3e-32},       // far in the tail: must not be 0
	}
	for _, tc := range tests {
		got := chi2Q(tc.x, tc.n)
		if math.Abs(got-tc.want) > 1e-6*math.Max(tc.want, 1e-300) && math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("chi2Q(%v, %d df) = %.10g, want %.10g", tc.x, 2*tc.n, got, tc.want)
		}
	}
	// The far tails are resolved in log space rather than rounded.
	q, p := chi2Tails(200, 10)
	if math.IsInf(q, -1) || q > -70 || q < -75 {
		t.Errorf("log Q(200, 20 df) = %v, want about ln(2.3e-32) = -72.8", q)
	}
	if p != p || p > 0 {
		t.Errorf("log P(200, 20 df) = %v, want just under 0", p)
	}
	q, p = chi2Tails(1, 100)
	if q != q || q > 0 || math.IsInf(p, -1) || p > -200 {
		t.Errorf("chi2 tails at x=1, 200 df: log Q %v, log P %v (P should be tiny but not 0)", q, p)
	}
}

func TestRobinson(t *testing.T) {
	tot := Totals{Spam: 10, Ham: 10}
	tests := []struct {
		c    Counts
		tot  Totals
		s, x float64
		want float64
	}{
		// p = 0.3/(0.3+0.1) = 0.75, n = 4: (0.45*0.5 + 4*0.75)/(0.45+4)
		{Counts{Spam: 3, Ham: 1}, tot, 0.45, 0.5, (0.225 + 3) / 4.45},
		{Counts{}, tot, 0.45, 0.5, 0.5},                                                        // unknown: the prior
		{Counts{}, tot, 0.45, 0.3, 0.3},                                                        // whatever the prior is
		{Counts{Spam: 5}, tot, 1, 0.5, (0.5 + 5) / 6},                                          // only in spam: pulled below 1
		{Counts{Ham: 5}, tot, 1, 0.5, 0.5 / 6},                                                 // only in ham: pulled above 0
		{Counts{Spam: 1, Ham: 1}, Totals{Spam: 1, Ham: 9}, 0.45, 0.5, (0.225 + 2*0.9) / 2.45},  // ratios, not counts
		{Counts{Spam: 50, Ham: 0}, Totals{Spam: 10, Ham: 10}, 0.45, 0.5, (0.225 + 50) / 50.45}, // counts over totals: clamped
	}
	for _, tc := range tests {
		if got := robinson(tc.c, tc.tot, tc.s, tc.x); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("robinson(%+v, %+v, s=%v, x=%v) = %v, want %v", tc.c, tc.tot, tc.s, tc.x, got, tc.want)
		}
	}
}

func TestFisher(t *testing.T) {
	// Neutral evidence is 0.5; the combination is symmetric.
	if l, _, _ := fisher([]float64{0.5, 0.5, 0.5}); math.Abs(l) > 1e-12 {
		t.Errorf("neutral clues give log-odds %v, want 0", l)
	}
	ps := []float64{0.99, 0.2, 0.95, 0.7, 0.01}
	qs := make([]float64, len(ps))
	for i, p := range ps {
		qs[i] = 1 - p
	}
	a, _, _ := fisher(ps)
	b, _, _ := fisher(qs)
	if math.Abs(a+b) > 1e-9 {
		t.Errorf("fisher not symmetric: %v vs %v", a, b)
	}
	// SpamBayes' formula directly, where float64 still resolves it.
	var lnF, ln1F float64
	for _, p := range ps {
		lnF += math.Log(p)
		ln1F += math.Log(1 - p)
	}
	n := len(ps)
	S := 1 - chi2Q(-2*ln1F, n)
	H := 1 - chi2Q(-2*lnF, n)
	want := (1 + S - H) / 2
	l, logQS, logQH := fisher(ps)
	if got := sigmoid(l); math.Abs(got-want) > 1e-12 {
		t.Errorf("I = %v, want (1+S-H)/2 = %v", got, want)
	}
	// Overwhelming evidence keeps ranking: more spam clues, higher
	// log-odds, though the probability rounds to 1.
	prev := 0.0
	for _, k := range []int{50, 100, 150} {
		c := make([]float64, k)
		for i := range c {
			c[i] = 0.999
		}
		l, _, _ := fisher(c)
		if math.IsInf(l, 0) || math.IsNaN(l) || l <= prev {
			t.Errorf("%d clues at 0.999: log-odds %v, want finite and over %v", k, l, prev)
		}
		prev = l
	}
	if math.Abs(math.Exp(logQS)-chi2Q(-2*ln1F, n)) > 1e-12 || math.Abs(math.Exp(logQH)-chi2Q(-2*lnF, n)) > 1e-12 {
		t.Errorf("tails Q_S %v, Q_H %v, want %v and %v", math.Exp(logQS), math.Exp(logQH), chi2Q(-2*ln1F, n), chi2Q(-2*lnF, n))
	}
	if l, _, _ := fisher(nil); l != 0 {
		t.Error("no clues must be neutral")
	}
}

// clues returns spam clues at 0.995 and ham clues at 0.005.
func clues(spam, ham int) []float64 {
	c := make([]float64, 0, spam+ham)
	for range spam {
		c = append(c, 0.995)
	}
	for range ham {
		c = append(c, 0.005)
	}
	return c
}

func TestRankOddsBreaksTies(t *testing.T) {
	// Both messages carry overwhelming evidence both ways. The first's spam
	// evidence dwarfs its ham evidence far more than the second's does, yet
	// Fisher's I puts the second a hair higher, following only the less
	// extreme tail of each.
	l1, qs1, qh1 := fisher(clues(300, 100))
	l2, qs2, qh2 := fisher(clues(50, 20))
	if !(l2 > l1) || math.Abs(l1) >= tieBand || math.Abs(l2) >= tieBand {
		t.Fatalf("premise: Fisher's log-odds %g and %g, want the second higher and both within %g of 0", l1, l2, tieBand)
	}
	r1, r2 := rankOdds(l1, qs1, qh1), rankOdds(l2, qs2, qh2)
	if !(r1 > r2) {
		t.Errorf("ranked %g and %g, want the message with the more one-sided evidence first", r1, r2)
	}
	for _, r := range []float64{r1, r2} {
		if !(r > 0 && r < tieBand) {
			t.Errorf("tie broken to %g, want within (0, %g): on the spam side, never past a message Fisher tells apart", r, tieBand)
		}
	}
	// Mirror images rank as mirror images; even evidence stays even.
	if l, qs, qh := fisher(clues(100, 300)); math.Abs(rankOdds(l, qs, qh)+r1) > 1e-12*tieBand {
		t.Errorf("mirror image ranked %g, want %g", rankOdds(l, qs, qh), -r1)
	}
	if l, qs, qh := fisher(clues(150, 150)); math.Abs(rankOdds(l, qs, qh)) > 1e-12*tieBand {
		t.Errorf("even evidence ranked %g, want 0", rankOdds(l, qs, qh))
	}
	// Outside the band Fisher decides alone.
	for _, c := range [][]float64{clues(3, 0), clues(0, 3), clues(10, 2), {0.9, 0.2}} {
		l, qs, qh := fisher(c)
		if math.Abs(l) < tieBand {
			t.Fatalf("premise: %v gives log-odds %g, inside the band", c, l)
		}
		if r := rankOdds(l, qs, qh); r != l {
			t.Errorf("%v: ranked %g, want Fisher's %g", c, r, l)
		}
	}
}

func TestProbabilityKeepsOrder(t *testing.T) {
	// Log-odds from both sides of every region where sigmoid rounds: near
	// 0, beyond ~37 and beyond ~-745.
	ls := []float64{math.Inf(-1), -1e6, -5000, -745.5, -744, -710, -700.5, -700, -699, -100, -1,
		-1e-11, -1e-12, -9e-13, -1e-16, -1e-40, -1e-300, 0, 1e-300, 1e-40, 1e-16, 9e-13, 1e-12, 1e-11,
		1, 29, 30, 30.5, 31, 37, 40, 100, 4000, 1e6, 1e300, math.Inf(1)}
	prev := -1.0
	for _, l := range ls {
		p := probability(l)
		if !(p > prev) {
			t.Errorf("probability(%g) = %v, not over probability of the previous log-odds (%v)", l, p, prev)
		}
		prev = p
		if math.IsInf(l, 0) {
			continue
		}
		if p <= 0 || p >= 1 {
			t.Errorf("probability(%g) = %v, want strictly between 0 and 1", l, p)
		}
		if d := math.Abs(p - sigmoid(l)); d >= 1e-13 {
			t.Errorf("probability(%g) = %v, %g from sigmoid", l, p, d)
		}
		if (l > 0) != (p > 0.5) || (l < 0) != (p < 0.5) {
			t.Errorf("probability(%g) = %v, on the wrong side of 0.5", l, p)
		}
	}
	for _, l := range []float64{-20, -0.3, 0, 0.7, 12, 29.9} {
		if p := probability(l); p != sigmoid(l) {
			t.Errorf("probability(%g) = %v, want sigmoid's %v where a float64 holds it", l, p, sigmoid(l))
		}
	}
}
