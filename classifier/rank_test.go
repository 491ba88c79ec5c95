package classifier

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// rankClues orders clues exactly as compareCands does, on lists full of
// ties of deviation and of tokens sharing their first eight bytes or
// ending in NUL bytes (which the zero padding of the prefix must not
// confuse with a shorter token).
func TestRankCluesMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "\x00", "bi:", "subject:", "url:example.", "z", "é"}
	// Deviations a few units in the last place apart, and lists as long
	// as Tokenize's longest.
	devs := []float64{0.44, 0.45, 0.4999, 0.5, 0.46, math.Nextafter(0.45, 1), math.Nextafter(0.45, 0), math.Nextafter(math.Nextafter(0.45, 1), 1), math.Nextafter(0.5, 0)}
	for n := range 600 {
		size := n % 97
		if n%100 == 99 {
			size = 4000 // the most tokens Tokenize gives
		}
		seen := map[string]bool{}
		var cands []cand
		for len(cands) < size {
			var tok string
			for k := r.IntN(5 + size/500); k >= 0; k-- {
				tok += alphabet[r.IntN(len(alphabet))]
			}
			if seen[tok] { // tokens are distinct, as Tokenize gives them
				continue
			}
			seen[tok] = true
			d := devs[r.IntN(len(devs))]
			cands = append(cands, cand{d, Clue{Token: tok, Prob: 0.5 + d}})
		}
		if n%50 == 48 {
			cands = append(cands, cand{math.NaN(), Clue{Token: "nan", Prob: math.NaN()}})
		}
		want := rankCluesSlow(slices.Clone(cands))
		got := rankClues(slices.Clone(cands))
		if len(got) != len(want) {
			t.Fatalf("case %d: %d clues, want %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i].Token != want[i].Token || !(got[i].Prob == want[i].Prob || math.IsNaN(want[i].Prob) && math.IsNaN(got[i].Prob)) {
				t.Fatalf("case %d: clue %d is %q, want %q\ngot  %v\nwant %v", n, i, got[i].Token, want[i].Token, got, want)
			}
		}
	}
}

// BenchmarkRankClues orders the clues of corpus messages scored against a
// store that learnt the corpus, by rankClues and by the plain sort it
// replaced, in the same run.
func BenchmarkRankClues(b *testing.B) {
	dir := corpusDir(b)
	ham, spam := loadCorpus(b, filepath.Join(dir, "ham"), 0), loadCorpus(b, filepath.Join(dir, "spam"), 0)
	st := NewMemStore()
	cfg := DefaultConfig()
	var docs []Doc
	for i, m := range append(ham, spam...) {
		docs = append(docs, Doc{Digest: Digest(m), Spam: i >= len(ham), Tokens: Tokenize(m)})
	}
	ctx := context.Background()
	if _, err := st.Learn(ctx, docs...); err != nil {
		b.Fatal(err)
	}
	var all [][]cand
	total := 0
	for _, d := range docs {
		counts, tot, err := st.Counts(ctx, d.Tokens)
		if err != nil {
			b.Fatal(err)
		}
		var cands []cand
		for i, tok := range d.Tokens {
			f := robinson(counts[i], tot, cfg.S, cfg.X)
			if dev := math.Abs(f - 0.5); dev >= cfg.MinDev {
				cands = append(cands, cand{dev, Clue{Token: tok, Prob: f}})
			}
		}
		all = append(all, cands)
		total += len(cands)
	}
	b.Logf("%d messages, %.0f clues each on average", len(all), float64(total)/float64(len(all)))
	scratch := make([]cand, 0, 4000)
	for _, bc := range []struct {
		name string
		rank func([]cand) []Clue
	}{{"sort", rankCluesSlow}, {"rank", rankClues}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				scratch = append(scratch[:0], all[n%len(all)]...)
				bc.rank(scratch)
				n++
			}
		})
	}
}
