package rules

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// TestBuildRBL builds a chain from dnsbl and rhsbl keys and drives it
// against a DNS server that lists one client and one sender domain.
func TestBuildRBL(t *testing.T) {
	s := dnstest.Start(t, `
$ORIGIN bl.test.
@ 300 IN SOA ns hostmaster 1 3600 600 86400 60
2.0.0.127 300 IN A 127.0.0.2
3.0.0.127 300 IN A 127.0.0.3
$ORIGIN score.test.
@ 300 IN SOA ns hostmaster 1 3600 600 86400 60
3.0.0.127 300 IN A 127.0.0.3
$ORIGIN dbl.test.
@ 300 IN SOA ns hostmaster 1 3600 600 86400 60
spammer.example 300 IN A 127.0.1.2
`)
	cfg, err := Parse("test.yaml", []byte(`
dns: {timeout: 1s}
dnsbl:
  - zone: bl.test
    codes: [127.0.0.2]
  - zone: score.test
    action: score
    weight: 1.5
    mask: "0.0.0.1"
rhsbl:
  - zone: dbl.test
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := BuildChain(cfg, &Deps{Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range ch.Filters() {
		names[f.Name()] = true
	}
	if !names["dnsbl"] || !names["rhsbl"] {
		t.Fatalf("chain filters %v lack dnsbl or rhsbl", names)
	}
	ctx := context.Background()
	tests := []struct {
		ip, from, reply string
		score           float64
	}{
		{"127.0.0.2", "a@clean.example", "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; queue id Q1", 0},
		{"127.0.0.3", "a@clean.example", "", 1.5}, // not in bl.test's codes; score.test's mask matches 3
		{"127.0.0.9", "a@spammer.example", "554 5.7.1 Service unavailable; Sender address [spammer.example] blocked using dbl.test; queue id Q1", 0},
	}
	for _, tt := range tests {
		c := &filters.ClientConn{ClientIP: netip.MustParseAddr(tt.ip), Helo: "mail.clean.example"}
		ch.Connect(ctx, c)
		tr := filters.NewTransaction(c, "Q1")
		tr.MailFrom = tt.from
		ch.Mail(ctx, tr)
		v := ch.Rcpt(ctx, tr, "u@example.org")
		got := ""
		if !v.Reply.IsZero() {
			got = v.Reply.String()
		}
		if got != tt.reply || tr.Total() != tt.score {
			t.Errorf("%s <%s>: reply %q score %v; want %q, %v", tt.ip, tt.from, got, tr.Total(), tt.reply, tt.score)
		}
	}
}
