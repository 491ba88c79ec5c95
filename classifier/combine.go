package classifier

import "math"

// robinson is Gary Robinson's estimate f(w) of the probability that a
// message holding the token is spam: the token's spam ratio p(w), taken
// from its counts normalised by how many messages of each class were
// learnt, pulled towards the prior x with strength s.
//
//	f(w) = (s*x + n*p(w)) / (s + n)
func robinson(c Counts, t Totals, s, x float64) float64 {
	if t.Spam == 0 || t.Ham == 0 {
		return x
	}
	spam := math.Min(float64(c.Spam)/float64(t.Spam), 1)
	ham := math.Min(float64(c.Ham)/float64(t.Ham), 1)
	n := float64(c.Spam) + float64(c.Ham)
	if spam+ham == 0 {
		return x
	}
	p := spam / (spam + ham)
	return (s*x + n*p) / (s + n)
}

// chi2Tails returns the logarithms of the upper (Q) and lower (P = 1-Q)
// tails of the chi-square distribution with 2n degrees of freedom at x.
// For an even number of degrees of freedom Q is a Poisson sum,
// Q = sum over i<n of e^-m m^i/i! with m = x/2, so both tails are sums of
// Poisson terms; the smaller one is summed directly in log space and the
// other derived from it, so neither rounds to exactly 0 or 1 where a
// difference still exists.
func chi2Tails(x float64, n int) (logQ, logP float64) {
	if n <= 0 {
		return 0, math.Inf(-1)
	}
	m := x / 2
	if !(m > 0) {
		return 0, math.Inf(-1)
	}
	lm := math.Log(m)
	logTerm := func(i int) float64 {
		lg, _ := math.Lgamma(float64(i) + 1)
		return -m + float64(i)*lm - lg
	}
	if m < float64(n) {
		// Upper Poisson tail (i >= n) is the smaller: its terms fall
		// from i = n on.
		t0 := logTerm(n)
		s, r := 1.0, 1.0
		for i := n + 1; i < n+100000; i++ {
			r *= m / float64(i)
			s += r
			if r < s*1e-17 {
				break
			}
		}
		logP = t0 + math.Log(s)
		return log1mexp(logP), logP
	}
	// Lower Poisson tail (i < n) is the smaller: its terms fall from
	// i = n-1 down.
	t0 := logTerm(n - 1)
	s, r := 1.0, 1.0
	for i := n - 1; i > 0; i-- {
		r *= float64(i) / m
		s += r
		if r < s*1e-17 {
			break
		}
	}
	logQ = t0 + math.Log(s)
	return logQ, log1mexp(logQ)
}

// chi2Q is the chi-square survival function for 2n degrees of freedom.
func chi2Q(x float64, n int) float64 {
	q, _ := chi2Tails(x, n)
	return math.Exp(q)
}

// log1mexp returns log(1 - e^a) for a <= 0 without cancellation.
func log1mexp(a float64) float64 {
	if a > -math.Ln2 {
		return math.Log(-math.Expm1(a))
	}
	return math.Log1p(-math.Exp(a))
}

// logAddExp returns log(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// fisher combines token probabilities as SpamBayes and bogofilter do:
//
//	S = 1 - chi2Q(-2 sum ln(1-f), 2n)   evidence of spam
//	H = 1 - chi2Q(-2 sum ln f, 2n)      evidence of ham
//	I = (1 + S - H) / 2
//
// It returns l = ln(I/(1-I)), computed from the tails in log space
// (I = (Q_H + P_S)/2 and 1-I = (P_H + Q_S)/2), so that messages far beyond
// what a float64 probability can tell from 1 or 0 still rank apart, and
// the logarithms of the two tails Q_S and Q_H themselves.
func fisher(probs []float64) (l, logQS, logQH float64) {
	n := len(probs)
	if n == 0 {
		return 0, 0, 0
	}
	var sumLnF, sumLn1F float64
	for _, f := range probs {
		sumLnF += math.Log(f)
		sumLn1F += math.Log1p(-f)
	}
	qS, pS := chi2Tails(-2*sumLn1F, n)
	qH, pH := chi2Tails(-2*sumLnF, n)
	return logAddExp(qH, pS) - logAddExp(pH, qS), qS, qH
}

// tieBand is how close to even Fisher's log-odds must be for the
// classifier to break the tie: I within tieBand/4 (0.00025) of 0.5.
//
// I is close to 0.5 in two ways: when neither kind of evidence is strong,
// and when both are overwhelming, as in a long newsletter full of rare
// words from both classes. In the second case I = 0.5 + (Q_H - Q_S)/2
// follows whichever tail is the less extreme and ignores the other, so
// messages with far stronger spam than ham evidence can rank below ones
// with the reverse. Within the band, messages are ranked by the balance
// of the two evidences instead, each measured by how improbable it would
// be by chance (-ln Q):
//
//	balance = (ln Q_H - ln Q_S) / (-ln Q_H - ln Q_S)   in [-1, 1]
//
// On ten rotated 70/30 splits of the SpamAssassin corpus this cut the mean
// (1-ROCA)% by a fifth and raised the mean spam recall at 0.1% false
// positives by two points; a band of 1e-4 to 1e-1 did about as well, 1e-6
// and narrower less so.
//
// The balance is weighed without the word pairs ("bi:click here") when a
// message has other clues. A pair repeats what its two words say, and in
// the even zone, where the evidence of both sides is overwhelming, the
// pairs are most of the clues (a short commercial newsletter: 33 of 42), so
// they decided which side's rare phrases happened to be more numerous.
// Without them (1-ROCA)% fell on the whole corpus 10-fold (0.0176 to
// 0.0160) and on each of three fixed 70/30 splits (0.0093 to 0.0063,
// 0.0082 to 0.0081, 0.0216 to 0.0206), recall at 0.1% false positives
// rising or equal on each. Outside the band they still count in full:
// dropping pairs that agree with one of their words made two of the three
// splits worse, dropping those agreeing with both changed nothing.
const tieBand = 1e-3

// rankOdds returns the log-odds a message is ranked and labelled by:
// Fisher's l outside the tie band, tieBand times the balance of the two
// evidences inside it, so that a tie-broken message never passes one
// Fisher tells apart.
func rankOdds(l, logQS, logQH float64) float64 {
	if math.Abs(l) >= tieBand {
		return l
	}
	strength := -(logQS + logQH)
	if !(strength > 0) || math.IsInf(strength, 1) {
		return l
	}
	return tieBand * (logQH - logQS) / strength
}

// sigmoid turns log-odds into a probability.
func sigmoid(l float64) float64 {
	if l >= 0 {
		return 1 / (1 + math.Exp(-l))
	}
	e := math.Exp(l)
	return e / (1 + e)
}

// Where a float64 probability cannot tell log-odds apart, probability
// squeezes them into the doubles that are left, so that the printed
// probability still ranks messages as the log-odds do:
//
//   - over +probHigh, sigmoid rounds to exactly 1 from about 37 on;
//     log-odds are compressed into (probHigh, probHigh+probHighSpan), whose
//     probabilities are all distinct from 1;
//   - under -probLow, e^l underflows to 0 from about -745 on; log-odds are
//     compressed into (-probLow-probLowSpan, -probLow), above the least
//     subnormal;
//   - within ±probMid of 0, sigmoid rounds to exactly 0.5 from about
//     ±4e-16 on; the offset from 0.5, l/4, is replaced by one growing with
//     the logarithm of |l|, reaching the exact offset at ±probMid.
//
// The compressions are monotonic and continuous, so the order is kept, and
// they move the probability by less than 1e-13 (below 1-sigmoid(30), under
// probMid/4 from 0.5, under e^-700), far less than any cutoff can tell.
const (
	probHigh     = 30.0
	probHighSpan = 6.5 // e^-36.5 is still over half the spacing of doubles below 1
	probLow      = 700.0
	probLowSpan  = 44.0 // e^-744 is still over the least subnormal
	probMid      = 4e-13
	// probCompress is how many natural-log units of excess halve the
	// remaining room: larger spreads far-out values more evenly.
	probCompress = 3.0
	probMidScale = 50.0
)

// squash maps an excess e >= 0 to [0, 1), rising steeply at 0 and slowly
// for ever after.
func squash(e float64) float64 {
	h := math.Log1p(e)
	return h / (h + probCompress)
}

// probability turns log-odds into the probability a message is spam:
// sigmoid(l) wherever a float64 holds it distinctly, and a value within
// 1e-13 of it that keeps the order of l where it does not. It is 0 or 1
// only for infinite l, and 0.5 only for l = 0.
func probability(l float64) float64 {
	switch {
	case math.IsNaN(l):
		return 0.5
	case math.IsInf(l, 1):
		return 1
	case math.IsInf(l, -1):
		return 0
	case l > probHigh:
		p := sigmoid(probHigh + probHighSpan*squash(l-probHigh))
		return math.Min(p, math.Nextafter(1, 0))
	case l < -probLow:
		p := sigmoid(-probLow - probLowSpan*squash(-probLow-l))
		return math.Max(p, math.SmallestNonzeroFloat64)
	case l != 0 && math.Abs(l) < probMid:
		// log(probMid/|l|) is in (0, ~690]: the smaller |l|, the closer
		// to 0.5, never reaching it.
		off := probMid / 4 / (1 + math.Log(probMid/math.Abs(l))/probMidScale)
		if l < 0 {
			return 0.5 - off
		}
		return 0.5 + off
	}
	return sigmoid(l)
}
