package uribl

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"mailguard/classifier"
)

// Item is a host or address a message links to.
type Item struct {
	// Host is the host name as written, lower case, in its ASCII (xn--)
	// form; "" for an address.
	Host string
	// Domain is Host reduced to its registrable domain with the Public
	// Suffix List (www.shop.example.co.uk -> example.co.uk).
	Domain string
	// IP is the address of a link to an IP literal.
	IP netip.Addr
	// Count is how often the message mentions it.
	Count int
	first int // order of first mention, to break ties
}

// Links is what Extract found, most mentioned first.
type Links struct {
	Items []Item
	// Parts is how many MIME parts were read; Truncated names the limit
	// that cut the walk short, "" when none did.
	Parts     int
	Truncated string
}

// Bounds on the text one message makes the extractor read.
const (
	maxTextBytes = 2 << 20
	maxItems     = 1000
	maxURLLen    = 4096
)

// Extract finds the hosts and addresses the message at raw links to: the
// targets of HTML links, images and forms, URLs and bare host names in the
// text of every decoded part (with the obfuscations spam uses to dodge
// link scanners undone: hxxp://, example[.]com, example(dot)com), and the
// targets of redirectors carried in a URL's query (?url=http://...).
// Host names are lower-cased and internationalised ones turned into their
// xn-- form. Only names under an ICANN top-level domain are kept.
func Extract(raw []byte) *Links {
	x := &extractor{seen: map[string]int{}}
	left := maxTextBytes
	res := classifier.Walk(raw, classifier.WalkLimits{}, func(p *classifier.Part) {
		if left <= 0 || !strings.HasPrefix(p.Type, "text/") || p.Attachment && p.Type != "text/html" {
			return
		}
		s := p.Text()
		if len(s) > left {
			s = s[:left]
		}
		left -= len(s)
		if p.HTML() {
			x.html(s)
		} else {
			x.text(s, 0)
		}
	})
	out := &Links{Items: x.items, Parts: res.Parts, Truncated: res.Truncated}
	slices.SortStableFunc(out.Items, func(a, b Item) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return a.first - b.first
	})
	return out
}

type extractor struct {
	items []Item
	seen  map[string]int // key -> index in items
}

func (x *extractor) addHost(host string) {
	host, ok := normalizeHost(host)
	if !ok {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return // an address counts only in a URL (see urls)
	}
	dom, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return
	}
	x.add("h:"+host, Item{Host: host, Domain: dom})
}

func (x *extractor) addIP(a netip.Addr) {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return
	}
	x.add("i:"+a.String(), Item{IP: a})
}

func (x *extractor) add(key string, it Item) {
	if i, ok := x.seen[key]; ok {
		x.items[i].Count++
		return
	}
	if len(x.items) >= maxItems {
		return
	}
	it.Count, it.first = 1, len(x.items)
	x.seen[key] = len(x.items)
	x.items = append(x.items, it)
}

// html reads the link targets of HTML and the text a reader sees.
func (x *extractor) html(s string) {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			x.text(string(z.Text()), 0)
		case html.StartTagToken, html.SelfClosingTagToken:
			for {
				k, v, more := z.TagAttr()
				switch string(k) {
				case "href", "src", "action", "background", "cite", "data", "formaction", "poster":
					x.link(string(v), 0)
				}
				if !more {
					break
				}
			}
		}
	}
}

// link reads one link target: a URL, or a bare host when it has none.
func (x *extractor) link(v string, depth int) {
	v = strings.TrimSpace(v)
	lv := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lv, "mailto:"):
		x.text(v[len("mailto:"):], depth)
	case strings.Contains(lv, "://"), strings.HasPrefix(lv, "www."):
		x.text(v, depth)
	}
}

// text finds URLs, e-mail domains and bare host names in plain text.
func (x *extractor) text(s string, depth int) {
	s = deobfuscate(s)
	x.bare(s)
	x.urls(s, depth)
}

// deobfuscate undoes the defanging of links: hxxp for http, [.] (.) {.}
// [dot] (dot) for a dot, [:] for a colon. Writers of phishing use it to get
// past link scanners and still have readers copy the link.
func deobfuscate(s string) string {
	if !strings.ContainsAny(s, "[({xX") {
		return s
	}
	return defang.Replace(s)
}

var defang = strings.NewReplacer(
	"hxxp", "http", "hXXp", "http", "HXXP", "HTTP", "hxxP", "http", "Hxxp", "http",
	"[.]", ".", "(.)", ".", "{.}", ".",
	"[dot]", ".", "(dot)", ".", "{dot}", ".", "[DOT]", ".", "(DOT)", ".",
	" [.] ", ".", "[:]", ":", "[://]", "://",
)

// urls finds scheme://host URLs, keeps links to IP literals (the bare-name
// scan does not see them) and follows redirector targets in the query.
func (x *extractor) urls(s string, depth int) {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return
		}
		at := i + j
		i = at + 3
		if !schemeBefore(s, at) {
			continue
		}
		end := at + 3
		for end < len(s) && end-at < maxURLLen && !urlStop(s[end]) {
			end++
		}
		rest := s[at+3 : end]
		host := rest
		if k := strings.IndexAny(host, "/?#\\"); k >= 0 {
			host = host[:k]
		}
		if k := strings.LastIndexByte(host, '@'); k >= 0 {
			host = host[k+1:]
		}
		if h := strings.TrimPrefix(host, "["); h != host {
			if k := strings.IndexByte(h, ']'); k >= 0 {
				if a, err := netip.ParseAddr(h[:k]); err == nil {
					x.addIP(a)
				}
			}
		} else {
			if k := strings.LastIndexByte(host, ':'); k >= 0 {
				host = host[:k]
			}
			if a, ok := parseIPv4(host); ok {
				x.addIP(a)
			}
		}
		// A redirector carries its target escaped in its path or query;
		// a target within a target is followed once more, no further.
		tail := rest[len(host):]
		if k := strings.IndexAny(rest, "/?#\\"); k >= 0 {
			tail = rest[k:]
		}
		if depth < 2 && strings.Contains(tail, "%") {
			if u, err := url.PathUnescape(tail); err == nil && u != tail {
				if strings.Contains(u, "://") || strings.Contains(strings.ToLower(u), "www.") {
					x.text(u, depth+1)
				}
			}
		}
		i = end
	}
}

// schemeBefore reports whether "://" at i follows a URL scheme.
func schemeBefore(s string, i int) bool {
	k := i
	for k > 0 && (isAlnum(s[k-1]) || s[k-1] == '+' || s[k-1] == '-' || s[k-1] == '.') {
		k--
	}
	return k < i
}

func urlStop(c byte) bool {
	return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == 0x7f
}

// parseIPv4 reads a dotted quad only: the decimal and octal spellings
// browsers accept are rare in mail and are not listed anyway.
func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// bare finds runs of host name characters with a dot in them: host names
// in URLs, after www., in e-mail addresses and standing alone.
func (x *extractor) bare(s string) {
	start := -1
	for i := 0; i <= len(s); {
		r, size := rune(0), 1
		if i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if i < len(s) && hostRune(r) {
			if start < 0 {
				start = i
			}
			i += size
			continue
		}
		if start >= 0 {
			run := s[start:i]
			// "%2Fexample.com" is an escaped URL, which the redirector
			// scan reads unescaped.
			escaped := start > 0 && s[start-1] == '%'
			if !escaped && strings.ContainsAny(run, ".。．｡") {
				x.addHost(run)
			}
			start = -1
		}
		i += size
	}
}

func hostRune(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return isAlnum(c) || c == '-' || c == '.' || c == '_'
	}
	return r == '。' || r == '．' || r == '｡' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// normalizeHost returns a run as a lower-case ASCII host name under an
// ICANN top-level domain, or a dotted-quad address; ok is false for
// anything else (file names, version numbers, sentence ends).
func normalizeHost(h string) (string, bool) {
	h = strings.Trim(h, ".-_。．｡")
	if h == "" || len(h) > 253*4 {
		return "", false
	}
	if a, ok := parseIPv4(h); ok {
		return a.String(), true
	}
	ascii := true
	for i := 0; i < len(h); i++ {
		if h[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		h = strings.ToLower(h)
	} else {
		a, err := idnaProfile.ToASCII(h)
		if err != nil {
			return "", false
		}
		h = a
	}
	if len(h) > 253 {
		return "", false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	tld := labels[len(labels)-1]
	if _, icann := publicsuffix.PublicSuffix(tld); !icann {
		return "", false
	}
	if len(labels) == 2 && fileExtension[tld] {
		// "readme.md", "setup.sh": a file name, not a host.
		return "", false
	}
	return h, true
}

// fileExtension are top-level domains that are also common file name
// extensions; a bare name of two labels ending in one is read as a file.
var fileExtension = map[string]bool{
	"md": true, "sh": true, "py": true, "pl": true, "rs": true, "zip": true,
	"mov": true, "ps": true, "so": true,
}
