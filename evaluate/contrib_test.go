package evaluate

import (
	"math"
	"testing"

	"mailguard/classifier"
)

// On hand, 3 of 16 pairs are misordered: ham 0.5 over both spam 0.4 (2),
// ham 0.4 tied with both (2 halves).
func TestWorstContributors(t *testing.T) {
	names := []string{"s1", "s2", "s3", "s4", "h1", "h2", "h3", "h4"}
	ham, spam := WorstContributors(hand, names, 10)
	if len(ham) != 2 || ham[0].Name != "h3" || ham[0].Misordered != 2 || ham[1].Name != "h2" || ham[1].Misordered != 1 {
		t.Fatalf("ham %+v, want h3 in 2 pairs, h2 in 1", ham)
	}
	if math.Abs(ham[0].SharePct-200.0/3) > 1e-9 {
		t.Errorf("h3's share %v%%, want 66.7%%", ham[0].SharePct)
	}
	if len(spam) != 2 || spam[0].Misordered != 1.5 || spam[1].Misordered != 1.5 {
		t.Errorf("spam %+v, want the two 0.4 spam in 1.5 pairs each", spam)
	}
	if ham, _ := WorstContributors(hand, names, 1); len(ham) != 1 {
		t.Errorf("n=1 listed %d", len(ham))
	}
}

func TestReliability(t *testing.T) {
	res := []classifier.Result{
		{Active: true, Calibrated: 0.9995}, {Active: true, Calibrated: 0.9995},
		{Active: true, Calibrated: 0.85}, {Active: true, Calibrated: 0.85},
		{Active: true, Calibrated: 0.001}, {Active: false, Calibrated: 0.5},
	}
	spam := []bool{true, true, true, false, false, true}
	rows := Reliability(res, spam)
	want := []BandRow{
		{Band: "BAYES_999", Spam: 2, MeanProb: 0.9995, SpamSharePct: 100},
		{Band: "BAYES_80", Spam: 1, Ham: 1, MeanProb: 0.85, SpamSharePct: 50},
		{Band: "BAYES_00", Ham: 1, MeanProb: 0.001, SpamSharePct: 0},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.Band != w.Band || r.Spam != w.Spam || r.Ham != w.Ham || math.Abs(r.MeanProb-w.MeanProb) > 1e-12 || r.SpamSharePct != w.SpamSharePct {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
}
