package verify

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"mailguard/anvil"
	"mailguard/filters"
)

func TestGreylist(t *testing.T) {
	now := time.Unix(2e9, 0)
	clock := func() time.Time { return now }
	store := anvil.NewMemory(0)
	store.SetClock(clock)
	g := NewGreylist(GreylistConfig{Store: store, Now: clock})
	ctx := context.Background()
	tx := func(ip, from string, setup func(*filters.ClientConn, *filters.Transaction)) *filters.Transaction {
		c := &filters.ClientConn{ClientIP: netip.MustParseAddr(ip), Log: slog.New(slog.DiscardHandler)}
		tr := filters.NewTransaction(c, "Q1")
		tr.MailFrom = from
		if setup != nil {
			setup(c, tr)
		}
		return tr
	}
	check := func(name string, tr *filters.Transaction, rcpt string, wantGrey bool) {
		t.Helper()
		v := g.CheckRcpt(ctx, tr, rcpt)
		grey := v.Action == filters.Tempfail && v.Reply == filters.ReplyGreylisted
		if grey != wantGrey {
			t.Errorf("%s: verdict %+v, greylisted %v, want %v", name, v, grey, wantGrey)
		}
	}
	check("first attempt", tx("192.0.2.10", "a@example.com", nil), "u@example.org", true)
	now = now.Add(time.Minute)
	check("retry before the delay", tx("192.0.2.10", "a@example.com", nil), "u@example.org", true)
	check("other recipient is another triplet", tx("192.0.2.10", "a@example.com", nil), "v@example.org", true)
	now = now.Add(5 * time.Minute)
	check("retry after the delay, from the same /24", tx("192.0.2.99", "A@Example.com", nil), "u@example.org", false)
	now = now.Add(10 * 24 * time.Hour)
	check("known triplet within memory", tx("192.0.2.10", "a@example.com", nil), "u@example.org", false)
	check("other network", tx("198.51.100.1", "a@example.com", nil), "u@example.org", true)
	now = now.Add(40 * time.Hour)
	check("retry after the window starts again", tx("198.51.100.1", "a@example.com", nil), "u@example.org", true)

	// Exemptions.
	check("relay client", tx("203.0.113.1", "b@example.com", func(c *filters.ClientConn, _ *filters.Transaction) { c.SetRelayClient(true) }), "u@example.org", false)
	check("authenticated", tx("203.0.113.1", "b@example.com", func(c *filters.ClientConn, _ *filters.Transaction) { c.AuthUser = "alice" }), "u@example.org", false)
	check("allow-listed sender", tx("203.0.113.1", "b@example.com", func(_ *filters.ClientConn, t *filters.Transaction) { t.SetAllowListed(true) }), "u@example.org", false)
	check("DNSWL-listed", tx("203.0.113.1", "b@example.com", func(_ *filters.ClientConn, t *filters.Transaction) {
		t.AddScore(filters.Score{Test: "RCVD_IN_DNSWL_HI", Points: -5})
	}), "u@example.org", false)
	check("not exempt", tx("203.0.113.1", "b@example.com", nil), "u@example.org", true)
}

func TestGreylistOnly(t *testing.T) {
	g := NewGreylist(GreylistConfig{OnlyNoRDNS: true, OnlyScoreAbove: 3})
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		rdns   string
		score  float64
		greyed bool
	}{
		{"named, low score", "mail.example.com", 1, false},
		{"no reverse name", "", 0, true},
		{"named, high score", "mail.example.com", 4, true},
	} {
		c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.1"), ClientName: tt.rdns, Log: slog.New(slog.DiscardHandler)}
		tr := filters.NewTransaction(c, "Q1")
		tr.MailFrom = tt.name + "@example.com"
		tr.AddScore(filters.Score{Test: "X", Points: tt.score})
		if v := g.CheckRcpt(ctx, tr, "u@example.org"); (v.Action == filters.Tempfail) != tt.greyed {
			t.Errorf("%s: %+v, want greylisted %v", tt.name, v, tt.greyed)
		}
	}
}
