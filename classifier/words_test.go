package classifier

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestProsePeelMatchesProse holds prosePeel to prose's own answers, on
// pieces of every shape (emoticons behind marks among them) and on every
// piece with punctuation in a sample of the corpus when it is present.
func TestProsePeelMatchesProse(t *testing.T) {
	spans := []string{"e-mail", "10:30", "http://x.example/a/", "a@b.example", "AT&T", "don't", "they'll",
		"(mail", "mail)", "$100", "$9.99", "a.b.c.", "U.S.A", "Mr.", "mail,", ":-)", "(-:", "x\u2019s", "a&rsquo;s",
		"\u201cquoted\u201d", "caf\u00e9-bar", "a/b", "x_y", "9-9-9", "[1]", "'a", "#tag", "*bold*", "a--b", "...",
		"(mail)", "\"quoted\"", "word.\"", "(see:", "$$$(-8", "[[[:-)", "((((-_-)", "U.S.A.", "(U.S.A.)",
		"e.g.,", "(Mr.)", "((Mr.", "$100.00", "[1234]", "mail...", "\"(((", "((((", "word!!!", "(a.b.c.d.)", "\"\"word\"\"",
		"(don't)", "(caf\u00e9)", "(AT&T)", "(x\u2019s)", "ab.cd.", "Ab.Cd.", "(a.)", "(9.9.)"}
	spans = append(spans, corpusPieces(t, "spam")...)
	spans = append(spans, corpusPieces(t, "ham")...)
	decided := 0
	for _, s := range spans {
		want := proseTokens(s)
		rest, whole := prosePeel(s)
		var got []string
		switch {
		case whole:
			decided++
			if len(rest) >= minWordLen {
				got = []string{rest}
			}
		default:
			got = proseTokens(rest)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: peeled to %q (whole %v), giving %q; prose gives %q", s, rest, whole, got, want)
		}
	}
	t.Logf("%d of %d pieces decided without prose", decided, len(spans))
	for _, s := range []string{"(mail", "mail)", "don't", "a&rsquo;s", "x\u2019s", "\u201cquoted\u201d", "$100"} {
		if rest, whole := prosePeel(s); whole && rest == s {
			t.Errorf("prosePeel(%q) gives it back whole, want it left to prose", s)
		}
	}
}

// corpusPieces returns the pieces with punctuation (white-space separated,
// as words splits text) of every tenth message of the corpus folder label,
// none when the corpus is absent.
func corpusPieces(t *testing.T, label string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "spamassassin", label, "*"))
	var pieces []string
	for i, n := range names {
		if i%10 != 0 {
			continue
		}
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range bytes.Fields(raw) {
			if s := string(f); len(s) >= minWordLen && len(s) <= maxProseSpan && !isPlainWord(s) {
				pieces = append(pieces, s)
			}
		}
	}
	return pieces
}

// The link test on a word as written gives the answers of the test on the
// word lower-cased, for the runes that lower-case to ASCII too (U+0130,
// U+212A) and invalid UTF-8.
func TestHasPrefixFoldMatchesToLower(t *testing.T) {
	words := []string{"HTTP://x", "Http://x", "hTTps://x", "WWW.x", "wwW.", "http:/", "İttp://x", "\u212Aww.x",
		"\xffhttp://x", "www", "ftp://x", "HTTPS:", "wWw.Example.COM", "ħttp://x", "ẆWW.x"}
	for _, w := range words {
		lw := strings.ToLower(w)
		want := strings.HasPrefix(lw, "http://") || strings.HasPrefix(lw, "https://") || strings.HasPrefix(lw, "www.")
		got := hasPrefixFold(w, "http://") || hasPrefixFold(w, "https://") || hasPrefixFold(w, "www.")
		if got != want {
			t.Errorf("%q: %v, lower-cased %v", w, got, want)
		}
	}
}

// looksHTML gives the answers of the search in the lower-cased text it
// replaced, on strings and bytes alike.
func TestLooksHTMLMatchesToLower(t *testing.T) {
	old := func(s string) bool {
		head := strings.ToLower(s[:min(len(s), 2048)])
		return strings.Contains(head, "<html") || strings.Contains(head, "<body") || strings.Contains(head, "<a href") ||
			strings.Contains(head, "<br>") || strings.Contains(head, "<p>") || strings.Contains(head, "<font")
	}
	texts := []string{"", "<", "<HTML>", "x <Body bgcolor", "<A HREF=x>", "<a  href", "<Br>", "<br/>", "<P>", "<pre>", "<FoNt size=2>",
		"<\u0130tml>", "<\u212Aont>", "\xff<html", "<ht\xffml>", "a <b>c</b>", "<<p>", "<htm", "<fon", "<a hre",
		strings.Repeat("x", 2045) + "<p>", strings.Repeat("x", 2046) + "<p>", strings.Repeat("é", 1022) + "<p>"}
	for _, s := range texts {
		if got, want := looksHTML(s), old(s); got != want {
			t.Errorf("%.40q: %v, lower-cased search %v", s, got, want)
		}
		if got, want := looksHTML([]byte(s)), old(s); got != want {
			t.Errorf("%.40q as bytes: %v, lower-cased search %v", s, got, want)
		}
	}
}

// BenchmarkWords splits a plain-text body of 4 KB into words and pairs.
func BenchmarkWords(b *testing.B) {
	text := strings.Repeat("Dear friend, we meet at 10:30 to talk it (over) in the office of Mr. Smith. ", 52)
	t := tokenizerPool.Get().(*tokenizer)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		t.words("", text)
		t.set.reset()
		t.urls.reset()
	}
}
