package classifier

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// words tokenizes text into lower-cased words with prefix, using prose's
// word tokenizer (tagging, segmentation and entity extraction off). Long
// words become SpamBayes' "skip:c N" tokens (first character, length in
// tens): their exact form is rarely repeated but their presence says
// something; links and addresses in the text give their hosts.
func (t *tokenizer) words(prefix, text string) {
	if text == "" {
		return
	}
	doc, err := prose.NewDocument(text, prose.WithTagging(false), prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		return
	}
	for _, tok := range doc.Tokens() {
		t.word(prefix, tok.Text)
	}
}

func (t *tokenizer) word(prefix, w string) {
	if len(w) < minWordLen {
		return
	}
	lw := strings.ToLower(w)
	if prefix == "" {
		if strings.HasPrefix(lw, "http://") || strings.HasPrefix(lw, "https://") || strings.HasPrefix(lw, "www.") {
			t.links++
			t.url(w)
			return
		}
		if at := strings.IndexByte(lw, '@'); at > 0 && strings.IndexByte(lw[at:], '.') > 0 {
			t.domain("email:", strings.Trim(lw[at+1:], ".,;:>)]\"'"))
			return
		}
	}
	n := utf8.RuneCountInString(lw)
	switch {
	case n < minWordLen:
		return
	case n > maxWordLen:
		r, _ := utf8.DecodeRuneInString(lw)
		t.add(prefix + "skip:" + string(r) + " " + strconv.Itoa(n/10*10))
	default:
		t.add(prefix + lw)
	}
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
	if ip := net.ParseIP(host); ip != nil {
		t.add("url:ip")
		t.ip("url:", ip)
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
		t.add(prefix + host)
		dot := strings.IndexByte(host, '.')
		if dot < 0 {
			return
		}
		host = host[dot+1:]
	}
}

// ip adds an address and, for IPv4, its /24 and /16.
func (t *tokenizer) ip(prefix string, ip net.IP) {
	if v4 := ip.To4(); v4 != nil {
		a, b, c := strconv.Itoa(int(v4[0])), strconv.Itoa(int(v4[1])), strconv.Itoa(int(v4[2]))
		t.add(prefix + a + "." + b + "." + c + "." + strconv.Itoa(int(v4[3])))
		t.add(prefix + a + "." + b + "." + c)
		t.add(prefix + a + "." + b)
		return
	}
	t.add(prefix + ip.String())
}
