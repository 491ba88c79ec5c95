package classifier

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// html reduces HTML to the text a reader sees and tokenizes the targets of
// its links and images and the property names of inline styles. Inline
// tags do not separate words, so "V<b></b>iagra" reads as one word, as on
// screen; comments, scripts and styles are not shown and are dropped.
func (t *tokenizer) html(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var sb strings.Builder
	sb.Grow(len(s) / 2)
	skip := 0 // inside script or style
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return sb.String()
		case html.TextToken:
			if skip == 0 {
				sb.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			// The tag's name and whether it may hold an attribute read
			// here are taken from the raw tag: TagName and TagAttr copy
			// every name and value they return.
			raw := z.Raw()
			a := tagAtom(raw, &t.tagName)
			if tt == html.EndTagToken {
				if (a == atom.Script || a == atom.Style) && skip > 0 {
					skip--
				}
			} else {
				switch a {
				case atom.Script, atom.Style:
					if tt == html.StartTagToken {
						skip++
					}
				case atom.Img:
					t.images++
				}
			}
			if !inline[a] {
				sb.WriteByte(' ')
			}
			if tt == html.EndTagToken || !mayHoldReadAttr(raw) {
				continue
			}
			for {
				k, v, more := z.TagAttr()
				switch string(k) {
				case "href", "src", "action", "background":
					if a != atom.Img {
						t.links++
					}
					t.linkBytes(v)
				case "style":
					t.style(string(v))
				}
				if !more {
					break
				}
			}
		}
	}
}

// style tokenizes the property names of an inline style attribute
// ("style:font-family"): the tools that write mail write inline CSS in
// recognisable ways. On ten rotated splits of the SpamAssassin corpus the
// names lowered the mean (1-ROCA)% slightly; adding tag names, attribute
// names or attribute values made it worse.
func (t *tokenizer) style(v string) {
	for decl := range strings.SplitSeq(v, ";") {
		name, _, ok := strings.Cut(decl, ":")
		if name = strings.TrimSpace(name); ok && name != "" {
			t.add("style:" + clip(strings.ToLower(name), 24))
		}
	}
}

// inline tags do not break a word on screen.
var inline = map[atom.Atom]bool{
	atom.A: true, atom.B: true, atom.I: true, atom.U: true, atom.Em: true,
	atom.Strong: true, atom.Font: true, atom.Span: true, atom.Small: true,
	atom.Big: true, atom.S: true, atom.Strike: true, atom.Sub: true,
	atom.Sup: true, atom.Tt: true, atom.Abbr: true, atom.Code: true,
}

// tagAtom returns the atom of the name of a start or end tag given raw,
// as html.Tokenizer.Raw returns it ("<name ...>" or "</name ...>"): the name
// runs, as the tokenizer reads it, to the first white space, '/' or '>',
// and is looked up lower-cased (ASCII) as TagName returns it. TagName also
// turns NUL into U+FFFD; no atom holds either. buf is scratch space.
// TestTagShortcutsMatchTokenizer holds it to atom.Lookup(TagName()).
func tagAtom(raw []byte, buf *[]byte) atom.Atom {
	start := 1
	if len(raw) > 1 && raw[1] == '/' {
		start = 2
	}
	b := (*buf)[:0]
	for i := start; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			*buf = b
			return atom.Lookup(b)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	*buf = b
	return atom.Lookup(b)
}

// mayHoldReadAttr reports whether a raw tag may hold one of the attributes
// html reads (href, src, action, background, style): an attribute's key is
// its bytes in the raw tag lower-cased, so a tag without one of those
// names in any case of its letters holds none of them, and most tags
// (font, td, p with their layout attributes) are passed over without
// their attributes copied out. TestTagShortcutsMatchTokenizer holds it to
// what TagAttr returns.
func mayHoldReadAttr(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] | 0x20 {
		case 'h':
			if hasPrefixFold(raw[i:], "href") {
				return true
			}
		case 's':
			if hasPrefixFold(raw[i:], "src") || hasPrefixFold(raw[i:], "style") {
				return true
			}
		case 'a':
			if hasPrefixFold(raw[i:], "action") {
				return true
			}
		case 'b':
			if hasPrefixFold(raw[i:], "background") {
				return true
			}
		}
	}
	return false
}
