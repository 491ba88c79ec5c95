package authres

import (
	"errors"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
)

func TestParseRecord(t *testing.T) {
	type want struct {
		p, sp       dmarc.Policy
		adkim, aspf dmarc.AlignmentMode
		pct         int
	}
	var r, s dmarc.AlignmentMode = dmarc.AlignmentRelaxed, dmarc.AlignmentStrict
	for _, tc := range []struct {
		txt  string
		want want
		err  error
	}{
		{"v=DMARC1; p=reject", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20", want{"quarantine", "none", s, s, 20}, nil},
		// Unknown tags and pieces that are not tags are ignored.
		{"v=DMARC1; p=reject; fo:1", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; fo:1; p=reject", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; x-future=yes; ri=abc; rf=foo; fo=9", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; garbage; ; =x; a b=c", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		// Tag names and keyword values are case-insensitive.
		{"V=DMARC1; P=Reject; SP=NONE; ADKIM=S; ASPF=s; PCT=50", want{"reject", "none", s, s, 50}, nil},
		// White space around = and ; and at the ends.
		{"  v = DMARC1 ;\tp = reject ; ", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject;", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		// Bad values fall back to their defaults.
		{"v=DMARC1; p=reject; adkim=x; aspf=strict; pct=abc", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; pct=150", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; pct=-0", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; pct=+5", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=reject; pct=0", want{p: "reject", adkim: r, aspf: r, pct: 0}, nil},
		// A bad sp= does not switch p= off for subdomains.
		{"v=DMARC1; p=reject; sp=rejetc", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		// A repeated tag: the first counts.
		{"v=DMARC1; p=reject; p=none", want{p: "reject", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=bogus; p=reject", want{adkim: r, aspf: r, pct: 100}, errNoValidPolicy},
		// No valid p=: p=none when rua= is valid (section 6.6.3), else
		// no DMARC processing.
		{"v=DMARC1; rua=mailto:dmarc@example.com", want{p: "none", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; p=bogus; rua=mailto:a@example.com!10m, mailto:b@example.com", want{p: "none", adkim: r, aspf: r, pct: 100}, nil},
		{"v=DMARC1; rua=not a uri", want{}, errNoValidPolicy},
		{"v=DMARC1; p=bogus", want{}, errNoValidPolicy},
		{"v=DMARC1", want{}, errNoValidPolicy},
		// Not DMARC records at all: "DMARC1" is case-sensitive and v=
		// must come first.
		{"v=dmarc1; p=reject", want{}, errNotDMARC},
		{"p=reject; v=DMARC1", want{}, errNotDMARC},
		{"v=DMARC1p=reject", want{}, errNotDMARC},
		{"v=spf1 -all", want{}, errNotDMARC},
		{"", want{}, errNotDMARC},
	} {
		got, err := parseRecord(tc.txt)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("parseRecord(%q): error %v, want %v", tc.txt, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		g := want{got.policy, got.subdomainPolicy, got.dkimAlignment, got.spfAlignment, got.percent}
		if g != tc.want {
			t.Errorf("parseRecord(%q) = %+v, want %+v", tc.txt, g, tc.want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=DMARC1; p=reject; fo:1")
	f.Add("V = DMARC1; P=Quarantine; pct=20; rua=mailto:a@b.example")
	f.Add("v=DMARC1;;;=;p")
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := parseRecord(txt)
		if err != nil {
			if r != nil {
				t.Errorf("parseRecord(%q) returned a record with %v", txt, err)
			}
			return
		}
		if strictness(r.policy) == 0 || r.percent < 0 || r.percent > 100 {
			t.Errorf("parseRecord(%q) = %+v", txt, r)
		}
		if r.subdomainPolicy != "" && strictness(r.subdomainPolicy) == 0 {
			t.Errorf("parseRecord(%q): sp %q", txt, r.subdomainPolicy)
		}
		if r.dkimAlignment != dmarc.AlignmentRelaxed && r.dkimAlignment != dmarc.AlignmentStrict {
			t.Errorf("parseRecord(%q): adkim %q", txt, r.dkimAlignment)
		}
	})
}
