package resolver

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"mailguard/internal/testutil/seeds"
)

// FuzzFromMsg reads answers as they come off the wire, whatever a server
// sends: no panic, and records only of the asked type.
func FuzzFromMsg(f *testing.F) {
	seeds.AddFiles(f, "testdata/msg/*.bin")
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil || len(m.Question) != 1 {
			return
		}
		q := m.Question[0]
		res := fromMsg(m, q.Name, q.Qtype)
		for _, rr := range res.Records {
			if rr.Header().Rrtype != q.Qtype {
				t.Fatalf("record %v answers %s", rr, dns.TypeToString[q.Qtype])
			}
		}
		if len(res.CNAMEs) > maxCNAMEs {
			t.Fatalf("%d CNAMEs followed", len(res.CNAMEs))
		}
		if res.TTL < 0 {
			t.Fatalf("negative TTL %v", res.TTL)
		}
		res.Data()
		res.AuthoritySOA()
	})
}

// FuzzUnescape: unescaping never grows a string and leaves strings without
// backslashes alone.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`plain`, `a\"b\\c\010d`, `\255\256\`, `\0`, `v=spf1 \"x\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := unescape(s)
		if len(u) > len(s) {
			t.Fatalf("unescape(%q) = %q is longer", s, u)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Fatalf("unescape(%q) = %q changed a plain string", s, u)
		}
	})
}
