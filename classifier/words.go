package classifier

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// words tokenizes text into lower-cased words with prefix, using prose's
// word tokenizer (tagging, segmentation and entity extraction off). Long
// words become SpamBayes' "skip:c N" tokens (first character, length in
// tens): their exact form is rarely repeated but their presence says
// something; links and addresses in the text give their hosts.
//
// prose splits text at white space and then peels punctuation off each
// piece, which leaves a piece of letters and digits alone as it is. Such
// pieces, most of any text, are therefore taken directly, and only the
// others go through prose (cached): the same tokens at a fraction of the
// cost (BenchmarkTokenize).
func (t *tokenizer) words(prefix, text string) {
	t.prev = t.prev[:0]
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			if asciiClass[c] == classSpace {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRuneInString(text[i:]); unicode.IsSpace(r) {
			i += size
			continue
		}
		start, plain := i, true
		for i < len(text) {
			// Letters and digits first: most bytes of any text.
			cl := byteClass[text[i]]
			if cl == classAlnum {
				i++
				continue
			}
			if cl == classSpace {
				break
			}
			if cl == classOther {
				plain = false
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) {
				break
			}
			if !unicode.IsLetter(r) {
				plain = false
			}
			i += size
		}
		span := text[start:i]
		if len(span) < minWordLen {
			continue // prose's pieces of it would be shorter still
		}
		if plain {
			t.plainWord(prefix, span)
			continue
		}
		if w, ok := trailingPunct(span); ok {
			if len(w) < len(span) {
				t.plainWord(prefix, w) // the mark peeled off a plain word
			} else {
				t.word(prefix, w)
			}
			continue
		}
		rest, whole := prosePeel(span)
		if whole {
			t.word(prefix, rest)
			continue
		}
		for _, w := range proseSplit(rest) {
			t.word(prefix, w)
		}
	}
}

// trailingPunct handles the commonest piece that is not plain, a word
// followed by one punctuation mark ("mail," "now!"), as prose does: it
// peels the mark off, except that it keeps abbreviations like "Mr." whole.
// TestTrailingPunctMatchesProse holds the two to the same answers.
func trailingPunct(span string) (string, bool) {
	last := span[len(span)-1]
	if !strings.ContainsRune(proseSuffixes, rune(last)) {
		return "", false
	}
	w := span[:len(span)-1]
	if !isPlainWord(w) {
		return "", false
	}
	if last == '.' && len(w) <= 3 && len(w) >= 2 && w[0] >= 'A' && w[0] <= 'Z' && isLowerASCII(w[1:]) {
		return span, true
	}
	return w, true
}

// prosePeel takes off a piece's opening and closing marks as prose does,
// one at a time, openers first, and returns what is left; whole reports
// that prose would give that back as one word, otherwise it is for prose
// to split. Prose peels an opener off the front and a mark off the end,
// splits contractions (all of which hold an apostrophe) and first rewrites
// curly quotes (led by the byte 0xE2) and "&rsquo;"; so a piece without
// those and without marks at its ends comes back whole, as most pieces
// with inner punctuation do ("e-mail", "10:30", links and addresses).
// Marks are peeled only from ASCII pieces and while more than five bytes
// are left, since prose keeps emoticons (five bytes at most in ASCII)
// whole. TestProsePeelMatchesProse holds the two to the same answers.
func prosePeel(span string) (rest string, whole bool) {
	ascii := true
	for i := 0; i < len(span); i++ {
		switch c := span[i]; {
		case c == '\'' || c == '&' || c == 0xe2:
			return span, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	for {
		opener := strings.IndexByte(proseOpeners, span[0]) >= 0
		if !opener && strings.IndexByte(proseSuffixes, span[len(span)-1]) < 0 {
			return span, true
		}
		switch {
		case !ascii || len(span) <= 5:
			return span, false
		case proseAbbreviation(span):
			return span, true
		case opener:
			span = span[1:]
		default:
			span = span[:len(span)-1]
		}
	}
}

// proseAbbreviation reports whether prose keeps w whole as an abbreviation
// like "U.S.A." (letters each followed by a dot, two or more) or "Mr.";
// the second form is at most four bytes and never reaches it from
// prosePeel.
func proseAbbreviation(w string) bool {
	if len(w) < 4 || len(w)%2 != 0 {
		return false
	}
	for i := 0; i < len(w); i += 2 {
		c := w[i] | 0x20
		if c < 'a' || c > 'z' || w[i+1] != '.' {
			return false
		}
	}
	return true
}

// proseSuffixes and proseOpeners are the marks prose peels off the end
// and the start of a word.
const (
	proseSuffixes = ",)\"]!;.?:'"
	proseOpeners  = "$(\"["
)

// maxProseSpan is the longest piece given to prose.
const maxProseSpan = 64

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

const (
	classOther = iota
	classSpace
	classAlnum
	classBeyond // a byte of a character beyond ASCII
)

// byteClass is asciiClass for every byte, with classBeyond from 0x80.
var byteClass = func() (c [256]uint8) {
	for b := range c {
		if b < utf8.RuneSelf {
			c[b] = asciiClass[b]
		} else {
			c[b] = classBeyond
		}
	}
	return c
}()

// asciiClass sorts ASCII as prose does: white space by unicode.IsSpace,
// letters and digits, the rest.
var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for b := range utf8.RuneSelf {
		switch {
		case unicode.IsSpace(rune(b)):
			c[b] = classSpace
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
			c[b] = classAlnum
		}
	}
	return c
}()

// proseCache remembers how prose split a piece: the same pieces ("you.",
// "(see") come back in message after message, and prose's rules (a regular
// expression among them) cost more than the lookup. It is bounded by
// starting over when full.
var proseCache = struct {
	sync.RWMutex
	m map[string][]string
}{m: make(map[string][]string)}

const proseCacheMax = 1 << 17

func proseSplit(span string) []string {
	if len(span) > maxProseSpan {
		// prose peels one mark at a time and rescans what is left, which
		// is quadratic or worse in the length of the piece; a piece this
		// long holds no word anyway, only perhaps a link.
		return []string{strings.TrimRight(strings.TrimLeft(span, proseOpeners), proseSuffixes)}
	}
	proseCache.RLock()
	toks, ok := proseCache.m[span]
	proseCache.RUnlock()
	if ok {
		return toks
	}
	toks = proseTokens(span)
	proseCache.Lock()
	if len(proseCache.m) >= proseCacheMax {
		proseCache.m = make(map[string][]string)
	}
	proseCache.m[strings.Clone(span)] = toks
	proseCache.Unlock()
	return toks
}

func proseTokens(text string) []string {
	doc, err := prose.NewDocument(text, prose.WithTagging(false), prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		return nil
	}
	pt := doc.Tokens()
	toks := make([]string, 0, len(pt))
	for _, tok := range pt {
		if len(tok.Text) >= minWordLen {
			toks = append(toks, strings.Clone(tok.Text))
		}
	}
	return toks
}

func (t *tokenizer) word(prefix, w string) {
	if len(w) < minWordLen {
		return
	}
	if prefix == "" && !isPlainWord(w) {
		// The tests are made on w as it is, without lower-casing it
		// first: no rune lower-cases to '@', '.' or the ASCII letters
		// of the prefixes but those letters' capitals, so the answers
		// are those for the lower-cased word.
		if hasPrefixFold(w, "http://") || hasPrefixFold(w, "https://") || hasPrefixFold(w, "www.") {
			t.links++
			t.link(w)
			return
		}
		if at := strings.IndexByte(w, '@'); at > 0 && strings.IndexByte(w[at:], '.') > 0 {
			lw := strings.ToLower(w)
			at := strings.IndexByte(lw, '@')
			t.domain("email:", strings.Trim(lw[at+1:], ".,;:>)]\"'"))
			return
		}
	}
	// Lower-case into the scratch buffer, so that a word already seen
	// costs no allocation.
	b := append(t.scratch[:0], prefix...)
	n := 0
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(w[i:])
			b = utf8.AppendRune(b, unicode.ToLower(r))
			i += size
		}
		n++
	}
	t.scratch = b
	t.lowered(prefix, b, n)
}

// plainWord is word for a w of letters and digits. Those in ASCII only,
// the commonest kind, are neither a link nor an address, have one rune a
// byte and are lower-cased by setting the 0x20 bit, which digits have.
func (t *tokenizer) plainWord(prefix, w string) {
	b := append(append(t.scratch[:0], prefix...), w...)
	for i := len(prefix); i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			t.word(prefix, w)
			return
		}
		b[i] |= 0x20
	}
	t.scratch = b
	t.lowered(prefix, b, len(w))
}

// lowered adds the word b, prefix and lower-cased word of n runes, and
// for words without prefix the pair it makes with the word before.
func (t *tokenizer) lowered(prefix string, b []byte, n int) {
	switch {
	case n < minWordLen:
		return
	case n > maxWordLen:
		r, _ := utf8.DecodeRune(b[len(prefix):])
		sk := append(append(t.bigram[:0], prefix...), "skip:"...)
		sk = append(utf8.AppendRune(sk, r), ' ')
		sk = strconv.AppendInt(sk, int64(n/10*10), 10)
		t.addBytes(sk)
		t.bigram = sk
	default:
		t.addBytes(b)
		if prefix == "" {
			// Pairs of neighbouring words ("click here", "dear friend")
			// say more than the words alone: on three splits of the
			// SpamAssassin corpus they cut (1-ROCA) to less than half;
			// skip-pairs (OSB-like) and subject pairs did not help.
			w := b[len(prefix):]
			if len(t.prev) > 0 {
				bg := append(append(append(t.bigram[:0], pairPrefix...), t.prev...), ' ')
				bg = append(bg, w...)
				t.addBytes(bg)
				t.bigram = bg
			}
			t.prev = append(t.prev[:0], w...)
			return
		}
	}
	if prefix == "" {
		t.prev = t.prev[:0]
	}
}

// hasPrefixFold reports whether s begins with prefix, a lower-case ASCII
// string, in any case of ASCII letters.
func hasPrefixFold[T string | []byte](s T, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// pairPrefix opens the token of a pair of neighbouring words.
const pairPrefix = "bi:"

// IsPair reports whether a token is a pair of neighbouring words.
func IsPair(token string) bool { return strings.HasPrefix(token, pairPrefix) }

// isPlainWord reports whether w is ASCII letters and digits only.
func isPlainWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= utf8.RuneSelf || asciiClass[c] != classAlnum {
			return false
		}
	}
	return true
}

// url tokenizes a link target: its scheme and its host with each parent
// domain (or the address and its /24 and /16 for a literal IP).
func (t *tokenizer) url(raw string) {
	raw = strings.TrimSpace(raw)
	lr := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lr, "mailto:"):
		if at := strings.LastIndexByte(lr, '@'); at >= 0 {
			host := lr[at+1:]
			if i := strings.IndexAny(host, "?>&"); i >= 0 {
				host = host[:i]
			}
			t.domain("email:", host)
		}
		return
	case strings.HasPrefix(lr, "www."):
		raw = "http://" + raw
	case !strings.Contains(lr, "://"):
		return // relative links say nothing about where they lead
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Spam links are often malformed on purpose; take the host by hand.
		rest := raw[strings.Index(raw, "://")+3:]
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		u = &url.URL{Scheme: strings.ToLower(raw[:strings.Index(raw, "://")]), Host: rest}
	}
	t.add("proto:" + strings.ToLower(u.Scheme))
	if u.User != nil {
		t.add("url:userinfo")
	}
	host := strings.ToLower(u.Hostname())
	if u.Port() != "" {
		t.add("url:port")
	}
	if a, ok := parseAddr(strings.Trim(host, "[]")); ok {
		t.add("url:ip")
		t.ip("url:", a)
		return
	}
	t.domain("url:", host)
}

// domain adds host with each of its parent domains under prefix, e.g.
// url:www.example.com, url:example.com, url:com.
func (t *tokenizer) domain(prefix, host string) {
	host = strings.Trim(host, ".")
	if host == "" || len(host) > 253 {
		return
	}
	for i := 0; i < 6; i++ {
		b := append(t.scratch[:0], prefix...)
		for k := 0; k < len(host); k++ {
			c := host[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		t.scratch = b
		t.addBytes(b)
		dot := strings.IndexByte(host, '.')
		if dot < 0 {
			return
		}
		host = host[dot+1:]
	}
}

// ip adds an address and, for IPv4, its /24 and /16.
func (t *tokenizer) ip(prefix string, a netip.Addr) {
	a = a.Unmap()
	if !a.Is4() {
		t.add(prefix + a.String())
		return
	}
	v4 := a.As4()
	b := append(t.scratch[:0], prefix...)
	b = strconv.AppendInt(b, int64(v4[0]), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v4[1]), 10)
	n16 := len(b)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v4[2]), 10)
	n24 := len(b)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v4[3]), 10)
	t.scratch = b
	t.addBytes(b)
	t.addBytes(b[:n24])
	t.addBytes(b[:n16])
}
