package rbl

import (
	"strings"
	"testing"
)

// FuzzDomainOf: whatever a client sends as HELO or MAIL FROM, the name
// asked of a list is empty or a lowercase dotted name of safe characters.
func FuzzDomainOf(f *testing.F) {
	for _, s := range []string{"mail.example.org", "[192.0.2.1]", "a..b", "UPPER.Example.", "x@y.z", "ünïcode.example", "a.b\r\nRCPT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := domainOf(s)
		if d == "" {
			return
		}
		if d != strings.ToLower(d) || !strings.Contains(d, ".") || strings.Contains(d, "..") || strings.HasSuffix(d, ".") {
			t.Fatalf("domainOf(%q) = %q", s, d)
		}
		for _, r := range d {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				t.Fatalf("domainOf(%q) = %q has %q", s, d, r)
			}
		}
	})
}

// FuzzCleanReason: a list's TXT reason never breaks the reply line.
func FuzzCleanReason(f *testing.F) {
	for _, s := range []string{"Listed, see https://example.org/q?1.2.3.4", "a\r\n250 ok", "\x00\xff", strings.Repeat("x", 500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := cleanReason(s)
		if len(c) > 200 {
			t.Fatalf("cleanReason: %d bytes", len(c))
		}
		for _, r := range c {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("cleanReason(%q) = %q keeps %q", s, c, r)
			}
		}
	})
}
