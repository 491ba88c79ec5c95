package uribl

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func itemStrings(l *Links) []string {
	var out []string
	for _, it := range l.Items {
		if it.IP.IsValid() {
			out = append(out, fmt.Sprintf("%s x%d", it.IP, it.Count))
			continue
		}
		out = append(out, fmt.Sprintf("%s=%s x%d", it.Host, it.Domain, it.Count))
	}
	return out
}

// TestExtractMessages: the links of messages of our own, most mentioned
// first: HTML link, image and form targets in a base64 part, a URL split by
// a quoted-printable soft break, an e-mail address, defanged links (hxxp,
// [.], (dot)), an internationalised name in its xn-- form, a redirector's
// target; version numbers, file names, private addresses and the like are
// not links.
func TestExtractMessages(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"html.eml", []string{
			"www.shop.example.com=example.com x1",
			"mail.vendor.example.org=example.org x1",
			"login.secure-bank.example.co.uk=example.co.uk x1",
			"img.tracker.example.net=example.net x1",
			"203.0.113.7 x1",
		}},
		{"obfuscated.eml", []string{
			"evil-site.example.com=example.com x2",
			"phish.example.net=example.net x1",
			"xn--bcher-kva.example.de=example.de x1",
			"www.google.com=google.com x1",
			"target.landing-page.net=landing-page.net x1",
		}},
	}
	for _, tt := range tests {
		raw, err := os.ReadFile("testdata/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		got := itemStrings(Extract(raw))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.file, got, tt.want)
		}
	}
}

func TestExtractText(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"bare name", "see shop.example.com today", []string{"shop.example.com=example.com x1"}},
		{"sentence end", "Go to example.com.", []string{"example.com=example.com x1"}},
		{"hxxp and [.]", "hxxp://bad[.]example[.]com/x", []string{"bad.example.com=example.com x1"}},
		{"userinfo trick", "http://paypal.com@203.0.113.9/login", []string{"paypal.com=paypal.com x1", "203.0.113.9 x1"}},
		{"ipv6 literal", "http://[fe80::1]/ and http://[2606:4700::1]/", []string{"2606:4700::1 x1"}},
		{"punycode as written", "http://xn--bcher-kva.example.com/", []string{"xn--bcher-kva.example.com=example.com x1"}},
		{"unicode name", "http://BÜCHER.example.com/", []string{"xn--bcher-kva.example.com=example.com x1"}},
		{"ideographic dot", "visit example。com now", []string{"example.com=example.com x1"}},
		{"public suffix alone", "co.uk and github.io", nil},
		{"private suffix kept whole", "https://evil.github.io/x", []string{"evil.github.io=evil.github.io x1"}},
		{"unknown tld", "file.txt, v1.2, lib.so.6, readme.md, x.y", nil},
		{"loopback and private", "http://127.0.0.1/ http://192.168.1.1/", nil},
		{"nested redirect", "https://r.example.com/?u=https%3A%2F%2Fs.example.net%2F%3Fgo%3Dhttps%253A%252F%252Ffinal.example.org", []string{"r.example.com=example.com x1", "s.example.net=example.net x1", "final.example.org=example.org x1"}},
	}
	for _, tt := range tests {
		raw := "From: a@b.example\r\nSubject: t\r\n\r\n" + tt.text + "\r\n"
		got := itemStrings(Extract([]byte(raw)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q:\n got %q\nwant %q", tt.name, tt.text, got, tt.want)
		}
	}
}

// TestHTMLMislabelled: HTML sent as text/plain is read as HTML (its
// attribute values are links), and the text of an attachment is not read.
func TestHTMLMislabelled(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n<html><a href='http://a.example.com/'>x</a></html>\r\n" +
		"--x\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nhttp://b.example.net/\r\n--x--\r\n"
	got := itemStrings(Extract([]byte(raw)))
	if want := []string{"a.example.com=example.com x1"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestQueriesCap: at most max names per list, the most mentioned first;
// domain lists get each registrable domain once, host lists each host,
// addresses are asked reversed.
func TestQueriesCap(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		// host i is mentioned 30-i times... but only the first 5 hosts
		// more than once, so the order is by count then first mention.
		n := 1
		if i < 5 {
			n = 10 - i
		}
		for range n {
			fmt.Fprintf(&b, "http://www.site%02d.example.com/ ", i)
		}
	}
	b.WriteString("http://a.shared.example.net/ http://b.shared.example.net/ http://203.0.113.5/\r\n")
	links := Extract([]byte("Subject: t\r\n\r\n" + b.String()))
	lists := []List{{}, {}}
	lists[0].Zone, lists[1].Zone = "dbl.test", "hosts.test"
	lists[1].Hosts = true
	q := Queries(lists, links, 3)
	if want := []string{"example.com.dbl.test.", "example.net.dbl.test.", "5.113.0.203.dbl.test."}; !slices.Equal(q[0], want) {
		t.Errorf("domain list asked %q, want %q", q[0], want)
	}
	if want := []string{"www.site00.example.com.hosts.test.", "www.site01.example.com.hosts.test.", "www.site02.example.com.hosts.test."}; !slices.Equal(q[1], want) {
		t.Errorf("host list asked %q, want %q", q[1], want)
	}
	q = Queries(lists, links, 20)
	if len(q[0]) != 3 || len(q[1]) != 20 {
		t.Errorf("with a cap of 20: %d domain and %d host queries, want 3 and 20", len(q[0]), len(q[1]))
	}
}

// TestRegistrableDomain: hosts are reduced with the Public Suffix List.
func TestRegistrableDomain(t *testing.T) {
	tests := map[string]string{
		"www.example.com":             "example.com",
		"a.b.c.example.co.uk":         "example.co.uk",
		"shop.example.com.au":         "example.com.au",
		"x.evil.blogspot.com":         "evil.blogspot.com",
		"mail.example.kawasaki.jp":    "mail.example.kawasaki.jp",
		"WWW.Example.ORG":             "example.org",
		"xn--bcher-kva.example.de":    "example.de",
		"deep.sub.domain.example.net": "example.net",
	}
	for host, want := range tests {
		links := Extract([]byte("Subject: t\r\n\r\nhttp://" + host + "/\r\n"))
		if len(links.Items) != 1 || links.Items[0].Domain != want {
			t.Errorf("%s: got %v, want domain %s", host, itemStrings(links), want)
		}
	}
}
