package classifier

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"mailguard/internal/testutil/seeds"
)

// checkTagShortcuts holds tagAtom and mayHoldReadAttr to what the HTML
// tokenizer's TagName and TagAttr give for every tag of doc.
func checkTagShortcuts(t *testing.T, doc []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(doc))
	var buf []byte
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			raw := bytes.Clone(z.Raw())
			got, may := tagAtom(raw, &buf), mayHoldReadAttr(raw)
			name, _ := z.TagName()
			if want := atom.Lookup(name); got != want {
				t.Fatalf("tag %q: tagAtom %v, TagName %q (%v)", raw, got, name, want)
			}
			if tt == html.EndTagToken || may {
				continue
			}
			for {
				k, _, more := z.TagAttr()
				switch string(k) {
				case "href", "src", "action", "background", "style":
					t.Fatalf("tag %q: mayHoldReadAttr false, but it holds %q", raw, k)
				}
				if !more {
					break
				}
			}
		}
	}
}

// TestTagShortcutsMatchTokenizer: the tag names and attribute filter read
// from raw tags agree with the tokenizer on tricky tags, the samples and
// the corpus's messages.
func TestTagShortcutsMatchTokenizer(t *testing.T) {
	for _, doc := range []string{
		`<A HREF="http://x.example/">x</A><IMG SRC=y.gif><Br/><p/>`,
		"<font\tface=x>a</font ><td\nstyle='c:d'>b<TD\fbackGround=z>",
		"<a\x00b href=x><sCrIpT>var a = '<a href=q>';</ScRiPt><b>",
		`<form ACTION="/x"><div id=/><span/><p a=/>`,
		"<a href=\"x\x00y\"><a hr\x00ef=z><x-src>",
		`<a`, `</a`, `<a href`, `</>`, `<!-- <a href=x> -->`, `<?xml?>`, `</ a>`,
		`<textarea><a href=x></textarea><title><p style=c></title>`,
	} {
		checkTagShortcuts(t, []byte(doc))
	}
	files, _ := filepath.Glob("testdata/*.eml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkTagShortcuts(t, b)
	}
	t.Run("corpus", func(t *testing.T) {
		if testing.Short() {
			t.Skip("reads the whole corpus")
		}
		dir := corpusDir(t)
		for _, label := range []string{"ham", "spam"} {
			for _, m := range loadCorpus(t, filepath.Join(dir, label), 0) {
				if looksHTML(m) {
					checkTagShortcuts(t, m)
				}
			}
		}
	})
}

// FuzzTagShortcuts: tagAtom and mayHoldReadAttr agree with the HTML
// tokenizer on any input. Seeds are testdata/html.eml and
// testdata/fuzz/FuzzTagShortcuts.
func FuzzTagShortcuts(f *testing.F) {
	seeds.AddFiles(f, "testdata/html.eml")
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkTagShortcuts(t, doc)
	})
}
