package resolver

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"mailguard/internal/testutil/dnstest"
)

const hostZone = `
$ORIGIN example.net.
mx       300 IN A     192.0.2.10
mx       300 IN AAAA  2001:db8::10
mx       300 IN A     192.0.2.11
alias    300 IN CNAME mx.example.net.
v6only   300 IN AAAA  2001:db8::20
fails    300 IN A     192.0.2.30
good     300 IN A     192.0.2.50
liar     300 IN A     192.0.2.99
10.2.0.192.in-addr.arpa. 300 IN PTR liar.example.net.
10.2.0.192.in-addr.arpa. 300 IN PTR MX.Example.Net.
50.2.0.192.in-addr.arpa. 300 IN PTR liar.example.net.
`

func TestLookupHost(t *testing.T) {
	s := dnstest.Start(t, hostZone)
	s.ServFail("fails.example.net", true)
	r := newTest(t, s.Addr(), nil)
	ctx := context.Background()
	a := netip.MustParseAddr
	tests := []struct {
		host    string
		addrs   []netip.Addr
		alias   bool
		tempErr bool
	}{
		{"mx.example.net", []netip.Addr{a("192.0.2.10"), a("192.0.2.11"), a("2001:db8::10")}, false, false},
		{"alias.example.net", []netip.Addr{a("192.0.2.10"), a("192.0.2.11"), a("2001:db8::10")}, true, false},
		{"v6only.example.net", []netip.Addr{a("2001:db8::20")}, false, false},
		{"missing.example.net", nil, false, false},
		{"fails.example.net", nil, false, true},
	}
	for _, tt := range tests {
		h, err := LookupHost(ctx, r, tt.host)
		if !slices.Equal(h.Addrs, tt.addrs) || h.Alias != tt.alias || errors.Is(err, ErrTemporary) != tt.tempErr {
			t.Errorf("LookupHost(%s) = %v alias %v, %v; want %v alias %v, temporary error %v",
				tt.host, h.Addrs, h.Alias, err, tt.addrs, tt.alias, tt.tempErr)
		}
	}
}

func TestConfirmedName(t *testing.T) {
	s := dnstest.Start(t, hostZone)
	r := newTest(t, s.Addr(), nil)
	ctx := context.Background()
	tests := []struct {
		ip, want string
	}{
		// The first PTR name does not resolve back; the second does, and
		// is given lower-cased without the trailing dot.
		{"192.0.2.10", "mx.example.net"},
		// The PTR name resolves to another address: not confirmed.
		{"192.0.2.50", ""},
		// No PTR at all.
		{"192.0.2.77", ""},
	}
	for _, tt := range tests {
		if got := ConfirmedName(ctx, r, netip.MustParseAddr(tt.ip), 2*time.Second); got != tt.want {
			t.Errorf("ConfirmedName(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
