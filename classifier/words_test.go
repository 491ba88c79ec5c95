package classifier

import (
	"slices"
	"strings"
	"testing"
)

// TestTrailingPunctMatchesProse holds the shortcut for "word," to what
// prose itself makes of such pieces.
func TestTrailingPunctMatchesProse(t *testing.T) {
	var spans []string
	for _, w := range []string{"mail", "Mail", "MAIL", "Mr", "Mrs", "Dr", "St", "Ms", "Abc", "Ab", "A", "ok", "x1", "2002", "Dave", "U", "Sr"} {
		for _, p := range proseSuffixes {
			spans = append(spans, w+string(p))
		}
	}
	for _, s := range spans {
		got, ok := trailingPunct(s)
		if !ok {
			t.Errorf("trailingPunct(%q) declined a word with one mark", s)
			continue
		}
		var want []string
		for _, w := range proseTokens(s) {
			if len(w) >= minWordLen {
				want = append(want, w)
			}
		}
		var gotl []string
		if len(got) >= minWordLen {
			gotl = []string{got}
		}
		if !slices.Equal(gotl, want) {
			t.Errorf("%q: shortcut gives %q, prose %q", s, gotl, want)
		}
	}
	for _, s := range []string{"don't", "(mail", "a.b.c.", "mail,,", "e-mail,", "http://x.y/"} {
		if w, ok := trailingPunct(s); ok && !strings.Contains(strings.Join(proseTokens(s), " "), w) {
			t.Errorf("trailingPunct(%q) = %q, which prose does not give", s, w)
		}
	}
}
