package classifier

import (
	"net/netip"
	"testing"
)

// checkParseAddr holds parseAddr to netip.ParseAddr.
func checkParseAddr(t *testing.T, s string) {
	t.Helper()
	a, ok := parseAddr(s)
	want, err := netip.ParseAddr(s)
	if ok != (err == nil) || a != want {
		t.Fatalf("parseAddr(%q) = %v, %v; netip.ParseAddr gives %v, %v", s, a, ok, want, err)
	}
}

func TestParseAddrMatchesNetip(t *testing.T) {
	for _, s := range []string{
		"", "1.2.3.4", "192.0.2.300", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "2001:db8::",
		"mail.example.com", "localhost", "a:b", "1.2.3", "1.2.3.4.", "0x7f.1", "[::1]", ":", "9",
		"IPv6:2001:db8::1", "10.0.0.1%x", "１.2.3.4",
	} {
		checkParseAddr(t, s)
	}
}

// FuzzParseAddr: parseAddr agrees with netip.ParseAddr on any input.
// Seeds are testdata/fuzz/FuzzParseAddr.
func FuzzParseAddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		checkParseAddr(t, s)
	})
}
