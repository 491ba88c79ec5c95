package classifier

import (
	"testing"
)

// Short mail the classifier has little to go on must not be scored as
// near-certain spam: after training, each of these stays in a band worth
// fewer points than the tag threshold at the defaults (5), whatever side
// of 0.5 its few clues lean to.
func TestLittleEvidenceIsNotConfident(t *testing.T) {
	const tag = 5.0 // thresholds.tag at the defaults
	c := trainedOn(t)
	w := DefaultWeights()
	for _, name := range []string{"lunch.eml", "oneline.eml", "headeronly.eml"} {
		res := classifyFile(t, c, name)
		band := TestName(res.Calibrated)
		t.Logf("%s: log-odds %v, calibrated %v, %s, %d clues, %d facts, clues %v", name, res.LogOdds, res.Calibrated, band, len(res.Clues), res.Facts, res.Clues)
		if w[band] >= tag {
			t.Errorf("%s: %s (%.1f points) from %d clues, %d facts; want a band worth under %v", name, band, w[band], len(res.Clues), res.Facts, tag)
		}
	}
}

// A message with plenty of spam evidence still reaches the top bands.
func TestStrongSpamStaysConfident(t *testing.T) {
	c := trainedOn(t)
	res := classifyFile(t, c, "imagespam.eml")
	band := TestName(res.Calibrated)
	t.Logf("image spam: calibrated %v, %s, %d clues, %d facts", res.Calibrated, band, len(res.Clues), res.Facts)
	if band != "BAYES_99" && band != "BAYES_999" {
		t.Errorf("image spam: %s (calibrated %v); want BAYES_99 or BAYES_999", band, res.Calibrated)
	}
}
