package classifier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// trainedOn returns a classifier that learnt the messages under
// testdata/verdicts/train (ham/ and spam/), a small fixed set.
func trainedOn(t *testing.T) *Classifier {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MinLearned = 1
	c := New(cfg, NewMemStore())
	for _, class := range []string{"ham", "spam"} {
		files, err := filepath.Glob(filepath.Join("testdata", "verdicts", "train", class, "*.eml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("training %s: %v (%d files)", class, err, len(files))
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Learn(context.Background(), Doc{Digest: Digest(raw), Spam: class == "spam", Tokens: Tokenize(raw)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

func classifyFile(t *testing.T, c *Classifier, name string) Result {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "verdicts", name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Classify(context.Background(), Tokenize(raw))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A long newsletter from a list the ham holds, text and HTML with over a
// hundred links, whose words all lean to spam: its sender and list headers
// must keep it under the spam cutoff.
func TestNewsletterHam(t *testing.T) {
	c := trainedOn(t)
	res := classifyFile(t, c, "newsletter.eml")
	spamClues, hamClues := 0, 0
	for _, cl := range res.Clues {
		if cl.Prob > 0.5 {
			spamClues++
		} else {
			hamClues++
		}
	}
	t.Logf("newsletter: prob %v, log-odds %v, label %v, %d spam and %d ham clues", res.Prob, res.LogOdds, res.Label, spamClues, hamClues)
	if !res.Active || res.Prob >= c.Config().SpamCutoff || res.Label == Spam {
		t.Errorf("newsletter: prob %v, label %v; want under the spam cutoff %v", res.Prob, res.Label, c.Config().SpamCutoff)
	}
	// Evidence on both sides is overwhelming; without the pairs repeating
	// their words, the sender and list put it on the ham side.
	if res.LogOdds >= 0 {
		t.Errorf("newsletter: log-odds %v, want the ham side (under 0)", res.LogOdds)
	}
	if spamClues <= hamClues {
		t.Errorf("the newsletter's words do not lean to spam (%d spam, %d ham clues): the test proves nothing", spamClues, hamClues)
	}
}

// Image spam of the 2007 kind from a sender and relay never seen: an
// embedded GIF, no link, a charset that does not fit the text, and
// hundreds of words of story-book filler. Only the form of the message
// can tell, and it must.
func TestImageSpam(t *testing.T) {
	c := trainedOn(t)
	res := classifyFile(t, c, "imagespam.eml")
	t.Logf("image spam: prob %v, log-odds %v, label %v, clues %v", res.Prob, res.LogOdds, res.Label, res.Clues)
	if !res.Active || res.Prob < c.Config().SpamCutoff || res.Label != Spam {
		t.Errorf("image spam: prob %v, label %v; want at or over the spam cutoff %v", res.Prob, res.Label, c.Config().SpamCutoff)
	}
}

// On a message with more clues than the limit, the header and structure
// clues stay and the pairs take at most half.
func TestLimitClues(t *testing.T) {
	var clues []Clue
	for i := range 10 {
		clues = append(clues, Clue{Token: fmt.Sprintf("bi:w%d x", i), Prob: 0.9999})
	}
	for i := range 4 {
		clues = append(clues, Clue{Token: fmt.Sprintf("word%d", i), Prob: 0.999})
	}
	clues = append(clues, Clue{Token: "from:dom:example.org", Prob: 0.01}, Clue{Token: "url:example.net", Prob: 0.99})
	got := limitClues(slices.Clone(clues), 8)
	var names []string
	for _, c := range got {
		names = append(names, c.Token)
	}
	want := []string{"bi:w0 x", "bi:w1 x", "bi:w2 x", "bi:w3 x", "word0", "word1", "word2", "from:dom:example.org"}
	if !slices.Equal(names, want) {
		t.Errorf("kept %q, want %q", names, want)
	}
	if got := limitClues(slices.Clone(clues), 100); len(got) != len(clues) {
		t.Errorf("under the limit: kept %d of %d", len(got), len(clues))
	}
}
