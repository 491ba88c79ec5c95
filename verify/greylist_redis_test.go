package verify

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"mailguard/anvil/redisanvil"
	"mailguard/filters"
	"mailguard/internal/testutil/redistest"
)

// Two gateways on one Redis greylist as one: a triplet refused by A and
// retried through B after the delay passes; with Redis down, mail passes.
func TestGreylistSharedStore(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	clock := func() time.Time { return now }
	instance := func() *Greylist {
		st, err := redisanvil.Open(redisanvil.Config{URL: srv.URL(0), Prefix: "{mailguard}:greytest:", Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return NewGreylist(GreylistConfig{Store: st, Now: clock})
	}
	a, b := instance(), instance()
	ctx := context.Background()
	tx := func() *filters.Transaction {
		c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.10"), Log: slog.New(slog.DiscardHandler)}
		tr := filters.NewTransaction(c, "Q1")
		tr.MailFrom = "a@example.com"
		return tr
	}
	greylisted := func(g *Greylist) bool {
		v := g.CheckRcpt(ctx, tx(), "u@example.org")
		return v.Action == filters.Tempfail && v.Reply == filters.ReplyGreylisted
	}
	if !greylisted(a) {
		t.Fatal("first attempt through A passed")
	}
	now = now.Add(time.Minute)
	if !greylisted(b) {
		t.Fatal("retry through B before the delay passed")
	}
	now = now.Add(5 * time.Minute)
	if greylisted(b) {
		t.Fatal("retry through B after the delay A started is greylisted")
	}
	if greylisted(a) {
		t.Fatal("the triplet B let through is greylisted by A")
	}

	srv.Stop()
	c := &filters.ClientConn{ClientIP: netip.MustParseAddr("198.51.100.1"), Log: slog.New(slog.DiscardHandler)}
	tr := filters.NewTransaction(c, "Q2")
	tr.MailFrom = "new@example.net"
	if v := a.CheckRcpt(ctx, tr, "u@example.org"); !v.IsPass() {
		t.Fatalf("new triplet with Redis down: %+v, want a pass (postgrey's behaviour on a database error)", v)
	}
}
