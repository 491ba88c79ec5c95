package verify

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"mailguard/filters"
)

func newConn(t *testing.T, ip string) *filters.ClientConn {
	t.Helper()
	return &filters.ClientConn{ClientIP: netip.MustParseAddr(ip)}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in            string
		local, domain string
		trick         bool
	}{
		{"user@example.org", "user", "example.org", false},
		{"<User@Example.ORG>", "User", "example.org", false},
		{"user@example.org.", "user", "example.org", false},
		{`"john doe"@example.org`, "john doe", "example.org", false},
		{`"a\"b"@example.org`, `a"b`, "example.org", false},
		{"postmaster", "postmaster", "", false},
		{"user%other.net@example.org", "user%other.net", "example.org", true},
		{"@relay.net:user@example.org", "user", "example.org", true},
		{"<@a.net,@b.net:user@example.org>", "user", "example.org", true},
		{`"user@other.net"@example.org`, "user@other.net", "example.org", true},
		{"user@other.net@example.org", "user@other.net", "example.org", true},
		{"other.net!user@example.org", "other.net!user", "example.org", true},
		{"user@[192.0.2.1]", "user", "", true},
		{"user@[IPv6:2001:db8::1]", "user", "", true},
		{"user@", "user", "", true},
		{"user@.example.org", "user", "", true},
		{"user@example..org", "user", "", true},
		{`"unterminated@example.org`, "", "", true},
		{"user@Bücher.example", "user", "xn--bcher-kva.example", false},
		{"user@\xff.example", "user", "", true},
		// Spellings only UTS #46 mapping makes example.org: not it.
		{"user@ｅｘａｍｐｌｅ.org", "user", "", true},
		{"user@example\u3002org", "user", "", true},
		{"user@example\uff0eorg", "user", "", true},
		{"user@exam\u00adple.org", "user", "", true},
		{"user@exam\u200bple.org", "user", "", true},
		{"user@exa\x00mple.org", "user", "", true},
	}
	for _, tt := range tests {
		a := parseAddress(tt.in)
		if a.Local != tt.local || a.Domain != tt.domain || (a.Trick != "") != tt.trick {
			t.Errorf("parseAddress(%q) = local %q domain %q trick %q; want %q %q trick=%v",
				tt.in, a.Local, a.Domain, a.Trick, tt.local, tt.domain, tt.trick)
		}
	}
}

func TestRelay(t *testing.T) {
	r, err := NewRelay(RelayConfig{Domains: []string{"Example.org.", "mail.example.net", "Bücher.example"}, Networks: []string{"192.0.2.0/24", "2001:db8::1", "::ffff:203.0.113.0/120"}})
	if err != nil {
		t.Fatal(err)
	}
	const outsider, insider = "198.51.100.7", "192.0.2.10"
	tests := []struct {
		name, client, auth, rcpt string
		want                     int // 0 pass, else the reply code
	}{
		{"local domain", outsider, "", "user@example.org", 0},
		{"local domain any case, trailing dot", outsider, "", "User@EXAMPLE.org.", 0},
		{"listed subdomain", outsider, "", "u@mail.example.net", 0},
		{"unlisted subdomain", outsider, "", "u@sub.example.org", 554},
		{"parent of a listed domain", outsider, "", "u@example.net", 554},
		{"foreign domain", outsider, "", "user@elsewhere.test", 554},
		{"foreign domain from relay network", insider, "", "user@elsewhere.test", 0},
		{"foreign domain from IPv4-mapped relay client", "::ffff:192.0.2.10", "", "user@elsewhere.test", 0},
		{"foreign domain from single-address relay client", "2001:db8::1", "", "user@elsewhere.test", 0},
		{"foreign domain from an IPv4-mapped relay network", "203.0.113.5", "", "user@elsewhere.test", 0},
		{"foreign domain, authenticated", outsider, "alice", "user@elsewhere.test", 0},
		{"percent hack", outsider, "", "user%elsewhere.test@example.org", 554},
		{"source route", outsider, "", "@elsewhere.test:user@example.org", 554},
		{"source route list", outsider, "", "<@a.test,@b.test:user@example.org>", 554},
		{"quoted @", outsider, "", `"user@elsewhere.test"@example.org`, 554},
		{"quoted @ after go-smtp unquoting", outsider, "", "user@elsewhere.test@example.org", 554},
		{"quoted %", outsider, "", `"user%elsewhere.test"@example.org`, 554},
		{"bang path", outsider, "", "elsewhere.test!user@example.org", 554},
		{"percent hack from relay client", insider, "", "user%elsewhere.test@example.org", 554},
		{"bang path, authenticated", outsider, "alice", "elsewhere.test!user@example.org", 554},
		{"domain literal", outsider, "", "user@[192.0.2.1]", 554},
		{"domain literal from relay client", insider, "", "user@[192.0.2.1]", 554},
		{"no domain", outsider, "", "user", 554},
		{"bare postmaster", outsider, "", "Postmaster", 0},
		{"empty domain", outsider, "", "user@", 554},
		{"internationalised local domain", outsider, "", "user@bücher.example", 0},
		{"its ASCII form", outsider, "", "user@XN--BCHER-KVA.example", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, tt.client)
			c.AuthUser = tt.auth
			if v := r.CheckConnect(context.Background(), c); !v.IsPass() {
				t.Fatalf("CheckConnect = %+v", v)
			}
			tr := filters.NewTransaction(c, "Q1")
			v := r.CheckRcpt(context.Background(), tr, tt.rcpt)
			if v.Reply.Code != tt.want {
				t.Fatalf("CheckRcpt(%q) = %v (%s); want code %d", tt.rcpt, v.Reply, v.Reason, tt.want)
			}
			if tt.want != 0 {
				want := filters.ReplyRelayDenied.About(parseAddress(tt.rcpt).Display)
				if v.Reply != want || v.Action != filters.Reject {
					t.Fatalf("reply %q, action %v; want %q", v.Reply, v.Action, want)
				}
			}
		})
	}
}

// In milter mode the MTA has already applied its own relay restrictions to
// every recipient it passes on; the relay tricks are still refused.
func TestRelayDecidedByMTA(t *testing.T) {
	r, _ := NewRelay(RelayConfig{Domains: []string{"example.org"}})
	tests := []struct {
		rcpt string
		want int
	}{
		{"user@elsewhere.test", 0},
		{"user@example.org", 0},
		{"user", 0},
		{"user%elsewhere.test@example.org", 554},
		{"@elsewhere.test:user@example.org", 554},
		{"user@[192.0.2.1]", 554},
	}
	for _, tt := range tests {
		c := newConn(t, "198.51.100.7")
		c.RelayByMTA = true
		v := r.CheckRcpt(context.Background(), filters.NewTransaction(c, "Q1"), tt.rcpt)
		if v.Reply.Code != tt.want {
			t.Errorf("CheckRcpt(%q) with the MTA deciding = %v; want code %d", tt.rcpt, v.Reply, tt.want)
		}
	}
}

func TestRelayReplyText(t *testing.T) {
	r, _ := NewRelay(RelayConfig{Domains: []string{"example.org"}})
	tr := filters.NewTransaction(newConn(t, "198.51.100.7"), "Q1")
	v := r.CheckRcpt(context.Background(), tr, "<user@elsewhere.test>")
	if got, want := v.Reply.String(), "554 5.7.1 <user@elsewhere.test>: Relay access denied"; got != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
}

func TestBadNetworks(t *testing.T) {
	if _, err := NewRelay(RelayConfig{Networks: []string{"10.0.0.0/33"}}); err == nil {
		t.Error("NewRelay accepted 10.0.0.0/33")
	}
	if _, err := NewLists(ListsConfig{BlockNetworks: []string{"nonsense"}}); err == nil {
		t.Error("NewLists accepted a bad network")
	}
	if _, err := NewLists(ListsConfig{BlockSenders: []string{"example.com"}}); err == nil {
		t.Error("NewLists accepted a sender entry with no @")
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"user@example.org", `"a@b"@c`, "@a,@b:c@d", "a!b%c@[1.2.3.4]", "<>", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parseAddress(s)
		// Brackets are taken off once; "<<x>>" keeps the inner pair.
		nested := strings.HasPrefix(a.Display, "<") && strings.HasSuffix(a.Display, ">")
		if b := parseAddress(a.Display); b != a && !nested {
			t.Errorf("%q: parsed %+v, but its display form parses as %+v", s, a, b)
		}
		if a.Domain != strings.ToLower(a.Domain) || strings.ContainsAny(a.Domain, "@[]%!") || strings.HasSuffix(a.Domain, ".") {
			t.Errorf("%q: domain %q is not normalised", s, a.Domain)
		}
		if a.Domain != "" && a.Trick == "" && strings.ContainsAny(a.Local, "@%!") {
			t.Errorf("%q: local part %q is a trick not flagged", s, a.Local)
		}
	})
}
