package classifier

import (
	"context"
	"fmt"
	"testing"
)

// trained returns a classifier that learnt n spam about offers and n ham
// about meetings, each with a few tokens of its own.
func trained(t *testing.T, cfg Config, n int) *Classifier {
	t.Helper()
	st := NewMemStore()
	var docs []Doc
	for i := range n {
		docs = append(docs,
			Doc{Digest: fmt.Sprintf("s%d", i), Spam: true, Tokens: []string{"offer", "free", "click", fmt.Sprintf("spamonly%d", i%7), "the"}},
			Doc{Digest: fmt.Sprintf("h%d", i), Spam: false, Tokens: []string{"meeting", "agenda", "minutes", fmt.Sprintf("hamonly%d", i%5), "the"}})
	}
	c := New(cfg, st)
	if got, err := c.Learn(context.Background(), docs...); err != nil || got != len(docs) {
		t.Fatalf("learn: %d, %v", got, err)
	}
	return c
}

func TestClassifyInactiveUntilLearnt(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	c := trained(t, cfg, cfg.MinLearned-1)
	r, err := c.Classify(ctx, []string{"offer", "free", "click"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Active || r.Prob != 0.5 || r.Label != Unsure {
		t.Fatalf("with %d of each learnt: %+v, want inactive, 0.5, unsure", cfg.MinLearned-1, r)
	}
	// One more of each makes it active.
	c.Learn(ctx, Doc{Digest: "s-last", Spam: true, Tokens: []string{"offer"}}, Doc{Digest: "h-last", Tokens: []string{"agenda"}})
	r, _ = c.Classify(ctx, []string{"offer", "free", "click"})
	if !r.Active {
		t.Fatalf("with %d of each learnt, still inactive", cfg.MinLearned)
	}
}

func TestClassifyLabels(t *testing.T) {
	ctx := context.Background()
	c := trained(t, DefaultConfig(), 300)
	tests := []struct {
		tokens []string
		want   Label
	}{
		{[]string{"offer", "free", "click", "the", "unknown"}, Spam},
		{[]string{"meeting", "agenda", "minutes", "the"}, Ham},
		{[]string{"the", "unknown", "words"}, Unsure},
		{[]string{"offer", "free", "meeting", "agenda"}, Unsure},
		{nil, Unsure},
	}
	for _, tc := range tests {
		r, err := c.Classify(ctx, tc.tokens)
		if err != nil {
			t.Fatal(err)
		}
		if r.Label != tc.want {
			t.Errorf("%q: %v (p=%v), want %v", tc.tokens, r.Label, r.Prob, tc.want)
		}
		for _, cl := range r.Clues {
			if cl.Token == "the" || cl.Token == "unknown" {
				t.Errorf("%q: neutral token %q counted as a clue", tc.tokens, cl.Token)
			}
		}
	}
	// Clues come most extreme first and stop at MaxClues.
	cfg := DefaultConfig()
	cfg.MaxClues = 2
	c2 := New(cfg, c.Store())
	r, _ := c2.Classify(ctx, []string{"offer", "free", "click", "spamonly1"})
	if len(r.Clues) != 2 {
		t.Errorf("%d clues, want MaxClues 2", len(r.Clues))
	}
}

func TestLearnIdempotent(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	c := New(DefaultConfig(), st)
	d := Doc{Digest: "m1", Spam: true, Tokens: []string{"a", "b", "a"}}
	if n, _ := c.Learn(ctx, d); n != 1 {
		t.Fatalf("first learn changed %d, want 1", n)
	}
	if n, _ := c.Learn(ctx, d, d); n != 0 {
		t.Fatalf("learning the same digest again changed %d, want 0", n)
	}
	counts, tot, _ := st.Counts(ctx, []string{"a", "b"})
	if tot != (Totals{Spam: 1}) || counts[0] != (Counts{Spam: 1}) || counts[1] != (Counts{Spam: 1}) {
		t.Fatalf("after learning twice: %+v %+v", counts, tot)
	}
	// Relearning as ham moves the message.
	d.Spam = false
	if n, _ := c.Learn(ctx, d); n != 1 {
		t.Fatalf("relearn changed %d, want 1", n)
	}
	counts, tot, _ = st.Counts(ctx, []string{"a", "b"})
	if tot != (Totals{Ham: 1}) || counts[0] != (Counts{Ham: 1}) {
		t.Fatalf("after the move: %+v %+v", counts, tot)
	}
	if st.Tokens() != 2 {
		t.Errorf("%d tokens kept, want 2", st.Tokens())
	}
}

func TestClassifyStoreErrors(t *testing.T) {
	st := NewMemStore()
	st.Close()
	c := New(DefaultConfig(), st)
	if _, err := c.Classify(context.Background(), []string{"a"}); err == nil {
		t.Error("a closed store gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(DefaultConfig(), NewMemStore()).Learn(ctx, Doc{Digest: "x"}); err == nil {
		t.Error("a cancelled learn gave no error")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.S = 0 },
		func(c *Config) { c.X = 1 },
		func(c *Config) { c.MinDev = 0.5 },
		func(c *Config) { c.MaxClues = 0 },
		func(c *Config) { c.HamCutoff = 0.95 },
		func(c *Config) { c.SpamCutoff = 1.5 },
		func(c *Config) { c.MinLearned = -1 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: %+v passed", i, c)
		}
	}
}

func TestLabelString(t *testing.T) {
	for l, want := range map[Label]string{Ham: "ham", Unsure: "unsure", Spam: "spam"} {
		if l.String() != want {
			t.Errorf("%d: %q", l, l.String())
		}
	}
}
