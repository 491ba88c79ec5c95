package classifier

import (
	"testing"
	"unicode/utf8"

	"mailguard/internal/testutil/seeds"
)

// FuzzTokenize: any input tokenizes without panicking, within the bounds,
// into valid UTF-8 tokens without repeats. Seeds are testdata/*.eml and
// testdata/fuzz/FuzzTokenize.
func FuzzTokenize(f *testing.F) {
	seeds.AddFiles(f, "testdata/*.eml")
	f.Fuzz(func(t *testing.T, raw []byte) {
		toks := Tokenize(raw)
		if len(toks) > maxTokens+2 {
			t.Fatalf("%d tokens, over the bound", len(toks))
		}
		seen := make(map[string]bool, len(toks))
		for _, tok := range toks {
			if tok == "" || !utf8.ValidString(tok) {
				t.Fatalf("bad token %q", tok)
			}
			if seen[tok] {
				t.Fatalf("token %q twice", tok)
			}
			seen[tok] = true
		}
		_ = Digest(raw)
	})
}
