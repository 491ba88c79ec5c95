package classifier

import (
	"strings"
	"testing"
)

func TestScriptToken(t *testing.T) {
	for _, c := range []struct{ charset, text, want string }{
		{"us-ascii", "plain words only", ""},
		{"iso-8859-1", "café au lait, naïve", ""},
		{"windows-1252", "plain words only", ""},
		{"utf-8", "Привет, мир", ""},
		{"koi8-r", "Привет, мир", ""},
		{"", "no charset, plain", ""},
		{"x-unknown", "Привет", ""},
		// Russian read as Latin-1: accented letters everywhere.
		{"iso-8859-1", "Ïðèâåò, ìèð! Êàê äåëà?", "script:latin as latin8"},
		// A national charset declared for plain English: bulk mailers.
		{"ks_c_5601-1987", "Lowest mortgage rates here", "script:cjk as ascii"},
		{"koi8-r", "Lowest mortgage rates here", "script:cyrillic as ascii"},
		{"us-ascii", "Привет, мир", "script:ascii as cyrillic"},
		{"gb2312", "   ", ""},
		{"us-ascii", "   ", ""},
		{"iso-8859-1", "12 34", ""},
		// Only the start is read.
		{"us-ascii", strings.Repeat("ab ", scriptSample/3+1) + "Привет", ""},
		{"us-ascii", strings.Repeat("ab ", scriptSample/3-100) + strings.Repeat("Привет ", 60), "script:ascii as cyrillic"},
	} {
		if got := scriptToken(c.charset, c.text); got != c.want {
			t.Errorf("scriptToken(%q, %q) = %q, want %q", c.charset, c.text, got, c.want)
		}
	}
}

// BenchmarkScriptToken reads the script of a plain-text part of 4 KB
// declared us-ascii, the commonest case.
func BenchmarkScriptToken(b *testing.B) {
	text := strings.Repeat("Dear friend, we meet at 10:30 to talk it over. ", 100)
	for b.Loop() {
		scriptToken("us-ascii", text)
	}
}
