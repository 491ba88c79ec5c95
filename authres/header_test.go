package authres

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/dmarc"
)

func TestFormatResults(t *testing.T) {
	for _, tc := range []struct {
		rs   []result
		want string
	}{
		{nil, "mx.example.org; none"},
		{[]result{
			{method: "spf", value: "pass", props: [][2]string{{"smtp.mailfrom", "a@example.com"}}},
			{method: "dkim", value: "fail", reason: `body "hash"`, props: [][2]string{{"header.d", "example.com"}, {"header.i", ""}}},
			{method: "dmarc", value: "fail", comment: "p=reject (x)", props: [][2]string{{"header.from", "example.com"}}},
		}, `mx.example.org; spf=pass smtp.mailfrom=a@example.com; dkim=fail reason="body \"hash\"" header.d=example.com; dmarc=fail (p=reject  x ) header.from=example.com`},
		{[]result{{method: "spf", value: "none", props: [][2]string{{"smtp.mailfrom", `"odd local"@example.com`}}}},
			`mx.example.org; spf=none smtp.mailfrom="\"odd local\"@example.com"`},
		{[]result{{method: "spf", value: "none", props: [][2]string{{"smtp.helo", "a;b\r\nX-Injected: 1"}}}},
			`mx.example.org; spf=none smtp.helo="a;b  X-Injected: 1"`},
	} {
		if got := formatResults("mx.example.org", tc.rs); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestAuthservID(t *testing.T) {
	for in, want := range map[string]string{
		"mx.example.org; spf=pass":              "mx.example.org",
		"  mx.example.org 1; none":              "mx.example.org",
		"(c (nested) ) mx.example.org;x":        "mx.example.org",
		"\"mx.example.org\"; none":              "mx.example.org",
		"mx.example.org":                        "mx.example.org",
		"(unterminated mx.example.org; none":    "",
		"":                                      "",
		"mx.example.org(comment); spf=pass":     "mx.example.org",
		"\r\n\tmx.example.org\r\n\t; dkim=pass": "mx.example.org",
		`"mx\.example.org"; x`:                  "mx.example.org",
		`"a \"b\" c"(x)`:                        `a "b" c`,
		`"unterminated`:                         "",
		`mx.example.org"x"`:                     "mx.example.org",
	} {
		if got := authservID(in); got != want {
			t.Errorf("authservID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAligned(t *testing.T) {
	for _, tc := range []struct {
		auth, from string
		mode       dmarc.AlignmentMode
		want       bool
	}{
		{"example.com", "example.com", dmarc.AlignmentStrict, true},
		{"Example.COM.", "example.com", dmarc.AlignmentStrict, true},
		{"mail.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"mail.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"mail.example.com", "news.example.com", dmarc.AlignmentRelaxed, true},
		{"example.net", "example.com", dmarc.AlignmentRelaxed, false},
		// Two registrations under a public suffix are different
		// organizations.
		{"alice.github.io", "bob.github.io", dmarc.AlignmentRelaxed, false},
		{"a.example.co.uk", "b.example.co.uk", dmarc.AlignmentRelaxed, true},
		{"example.co.uk", "other.co.uk", dmarc.AlignmentRelaxed, false},
		{"", "example.com", dmarc.AlignmentRelaxed, false},
	} {
		if got := aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("aligned(%q, %q, %s) = %v", tc.auth, tc.from, tc.mode, got)
		}
	}
}

func TestFromDomains(t *testing.T) {
	for _, tc := range []struct {
		froms []string
		want  string // the domains, comma-separated
		ok    bool
	}{
		{[]string{"Alice <alice@Example.COM>"}, "example.com", true},
		{[]string{`"Last, First" <f@example.net>`}, "example.net", true},
		{[]string{"broken <<a@example.org>"}, "example.org", true},
		// Every author's domain is evaluated (RFC 7489 section 6.6.1).
		{[]string{"ceo@bank.test, helper@good.test"}, "bank.test,good.test", true},
		{[]string{"a@one.test, b@two.test, c@three.test"}, "one.test,two.test,three.test", true},
		{[]string{"Board: ceo@bank.test, helper@good.test;"}, "bank.test,good.test", true},
		{[]string{"Helper <helper@good.test>, CEO <ceo@bank.test>"}, "good.test,bank.test", true},
		// A display name that looks like an address is not an author.
		{[]string{`"ceo@bank.test" <helper@good.test>`}, "good.test", true},
		// One domain written twice (case, trailing dot, U-label) is one.
		{[]string{"a@bank.test, b@BANK.test., c@bank.test"}, "bank.test", true},
		{[]string{"a@bänk.test, b@xn--bnk-qla.test"}, "xn--bnk-qla.test", true},
		// Broken lists still yield every domain.
		{[]string{"ceo@bank.test, broken <<helper@good.test>"}, "bank.test,good.test", true},
		{[]string{"ceo@bank.test; helper@good.test"}, "bank.test,good.test", true},
		// Two From fields (a malformed message): both count.
		{[]string{"a@example.com", "b@example.net"}, "example.com,example.net", true},
		{[]string{"a@example.com", "b@example.com"}, "example.com", true},
		{[]string{"no address"}, "", false},
		{[]string{"undisclosed-recipients:;"}, "", false},
		{nil, "", false},
	} {
		got, err := fromDomains(tc.froms)
		if (err == nil) != tc.ok || strings.Join(got, ",") != tc.want {
			t.Errorf("fromDomains(%q) = %q, %v; want %q", tc.froms, got, err, tc.want)
		}
	}
}

func FuzzAuthservID(f *testing.F) {
	f.Add("mx.example.org; spf=pass")
	f.Add("((()))")
	f.Add("(\\) x; y")
	f.Fuzz(func(t *testing.T, v string) {
		id := authservID(v)
		if !strings.HasPrefix(skipCFWS(v), `"`) && strings.ContainsAny(id, "; \t\r\n") {
			t.Errorf("authservID(%q) = %q holds a separator", v, id)
		}
		if len(id) > len(v) {
			t.Errorf("authservID(%q) = %q longer than input", v, id)
		}
	})
}

func FuzzFromDomain(f *testing.F) {
	f.Add("Alice <alice@example.com>")
	f.Add("=?utf-8?q?x?= <a@b.example>")
	f.Add("@")
	f.Add("ceo@bank.test, helper@good.test")
	f.Add("G: a@b.test, c@d.test;")
	f.Fuzz(func(t *testing.T, v string) {
		ds, err := fromDomains([]string{v})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range ds {
			if d == "" || strings.ContainsAny(d, " \t<>@,;") && utf8.ValidString(v) {
				t.Errorf("fromDomains(%q) = %q", v, ds)
			}
			if seen[d] {
				t.Errorf("fromDomains(%q) = %q repeats %q", v, ds, d)
			}
			seen[d] = true
		}
	})
}
