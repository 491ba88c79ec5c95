// Package evaluate measures the classifier on a labelled corpus the way the
// TREC spam track does: k-fold cross-validation, the area above the ROC
// curve as (1-ROCA)%, spam recall at a fixed false-positive rate, the error
// rates at the configured bands, and an SVG plot of the ROC curve.
package evaluate

import (
	"math"
	"sort"
)

// Score is one message's score and true class; a higher Score is more
// spammy.
type Score struct {
	Spam  bool
	Score float64
}

// OneMinusROCA returns (1-ROCA)%: 100 times the area above the ROC curve,
// computed as the TREC tools and roc.py do, from the rank sum of the spam
// scores with tied scores sharing their average rank (a tie counts half).
// It is NaN when either class is missing.
func OneMinusROCA(scores []Score) float64 {
	s := append([]Score(nil), scores...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Score < s[j].Score })
	var rsum float64
	var ns, nh float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].Score == s[i].Score {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if s[k].Spam {
				rsum += avg
				ns++
			} else {
				nh++
			}
		}
		i = j
	}
	if ns == 0 || nh == 0 {
		return math.NaN()
	}
	auc := (rsum - ns*(ns+1)/2) / (ns * nh)
	return (1 - auc) * 100
}

// RecallAtFPR returns the percentage of spam scored above the best cut
// that lets at most fpr (a fraction) of the ham through, as roc.py does:
// the cut is the score of the (fpr*ham+1)-th highest ham, and spam must
// score strictly above it.
func RecallAtFPR(scores []Score, fpr float64) float64 {
	var ham []float64
	ns := 0
	for _, s := range scores {
		if s.Spam {
			ns++
		} else {
			ham = append(ham, s.Score)
		}
	}
	if ns == 0 {
		return math.NaN()
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ham)))
	k := int(fpr * float64(len(ham)))
	cut := math.Inf(-1)
	if k < len(ham) {
		cut = ham[k]
	}
	n := 0
	for _, s := range scores {
		if s.Spam && s.Score > cut {
			n++
		}
	}
	return 100 * float64(n) / float64(ns)
}

// Point is a point of the ROC curve: the fractions of ham and of spam at or
// over some threshold.
type Point struct{ FPR, TPR float64 }

// Curve returns the ROC curve from (0,0) to (1,1), one point for each
// distinct score, so tied scores make one diagonal step as in the area.
func Curve(scores []Score) []Point {
	s := append([]Score(nil), scores...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Score > s[j].Score })
	var ns, nh float64
	for _, x := range s {
		if x.Spam {
			ns++
		} else {
			nh++
		}
	}
	pts := []Point{{0, 0}}
	if ns == 0 || nh == 0 {
		return append(pts, Point{1, 1})
	}
	var tp, fp float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].Score == s[i].Score {
			if s[j].Spam {
				tp++
			} else {
				fp++
			}
			j++
		}
		pts = append(pts, Point{fp / nh, tp / ns})
		i = j
	}
	return pts
}
