package classifier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailguard/filters"
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

// Through the chain at the default thresholds (tag 5, quarantine 10): the
// short messages are relayed untagged with BAYES_50, the strong spam is
// quarantined on the classifier's points alone.
func TestLittleEvidenceThroughChain(t *testing.T) {
	f := NewFilter(FilterConfig{Classifier: trainedOn(t)})
	for _, tc := range []struct {
		file string
		test string
		want filters.Action
		tag  bool
	}{
		{"lunch.eml", "BAYES_50", filters.Continue, false},
		{"oneline.eml", "BAYES_50", filters.Continue, false},
		{"headeronly.eml", "BAYES_50", filters.Continue, false},
		{"imagespam.eml", "BAYES_999", filters.Quarantine, true},
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", "verdicts", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := runChain(t, []filters.Filter{f}, string(raw), "")
		st := status(out)
		if out.Verdict.Action != tc.want || out.Tag != tc.tag || !strings.Contains(st, tc.test+"=") {
			t.Errorf("%s: action %v, tagged %v, X-Spam-Status %q; want %v, tagged %v, %s", tc.file, out.Verdict.Action, out.Tag, st, tc.want, tc.tag, tc.test)
		}
	}
}

func TestFacts(t *testing.T) {
	for _, tc := range []struct {
		tokens []string
		want   int
	}{
		{nil, 0},
		// One header field is one fact, however many of its tokens are clues.
		{[]string{"from:dom:example.net", "from:dom:net", "received:203.0", "received:203.0.113"}, 2},
		// A pair repeating a word that is a clue adds nothing; one whose
		// words are no clue does.
		{[]string{"cheap", "bi:cheap pills", "bi:click here"}, 2},
		{[]string{"lunch", "noon", "subject:lunch", "message-id:none"}, 4},
		// Links and long-word skips are text, not header.
		{[]string{"url:example.com", "url:example.net", "skip:a 30"}, 3},
	} {
		var clues []Clue
		for _, tok := range tc.tokens {
			clues = append(clues, Clue{Token: tok, Prob: 0.99})
		}
		if got := Facts(clues); got != tc.want {
			t.Errorf("Facts(%q) = %d, want %d", tc.tokens, got, tc.want)
		}
	}
}
