package verify

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"mailguard/anvil/redisanvil"
	"mailguard/filters"
	"mailguard/internal/testutil/redistest"
	"mailguard/internal/testutil/smtptest"
)

// Two gateways on one Redis: an address one of them verified (accepted or
// refused) is answered from the shared cache by the other, which does not
// probe again; with Redis down both still probe.
func TestCalloutSharedCache(t *testing.T) {
	srv := redistest.Start(t)
	backend := smtptest.Start(t, smtptest.Options{})
	backend.RefuseRcpt("nobody@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user here"})
	instance := func() *Recipients {
		st, err := redisanvil.Open(redisanvil.Config{URL: srv.URL(0)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		co := NewCallout(CalloutConfig{Hostname: "gw.test", Timeout: 5 * time.Second, Rate: -1, Cache: st})
		r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org"}, Callout: co, Backend: backend.Addr})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := instance(), instance()
	c := newConn(t, "198.51.100.7")
	want := "550 5.1.1 <nobody@example.org>: Recipient address rejected: undeliverable address; backend said: 550 5.1.1 No such user here"

	if v := rcpt(t, a, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice through A: %v (%s)", v.Reply, v.Reason)
	}
	if v := rcpt(t, a, c, "nobody@example.org"); v.Reply.String() != want {
		t.Fatalf("nobody through A: %q, want %q", v.Reply, want)
	}
	if n := backend.Connections(); n != 2 {
		t.Fatalf("A probed %d times, want 2", n)
	}
	if v := rcpt(t, b, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice through B: %v (%s)", v.Reply, v.Reason)
	}
	v := rcpt(t, b, c, "nobody@example.org")
	if v.Reply.String() != want || v.Action != filters.Reject || v.Reason != "backend refused it (cached)" {
		t.Fatalf("nobody through B: %q (%s), want %q from the cache", v.Reply, v.Reason, want)
	}
	if n := backend.Connections(); n != 2 {
		t.Fatalf("B probed again what A had verified: %d probes, want 2", n)
	}

	srv.Stop()
	if v := rcpt(t, b, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice with Redis down: %v (%s)", v.Reply, v.Reason)
	}
	if n := backend.Connections(); n != 3 {
		t.Fatalf("with Redis down: %d probes, want 3 (probed again)", n)
	}
}

// Whatever a shared cache holds (another version's JSON, a damaged value)
// is either a definite answer (accepted, or a 5xx refusal) or a miss that
// leads to a probe; never a panic, never a 2xx or 4xx "refusal".
func FuzzCalloutCached(f *testing.F) {
	for _, s := range []string{`{"accepted":true}`, `{"reply":{"Code":550,"Enhanced":"5.1.1","Text":"No such user"},"server":"[192.0.2.1]:25"}`,
		`{"reply":{"Code":250}}`, `{"reply":{"Code":450}}`, `{}`, `null`, `[`, "\x00\xff", `{"accepted":"yes"}`} {
		f.Add([]byte(s))
	}
	co := NewCallout(CalloutConfig{Rate: -1})
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, v []byte) {
		co.good.SetValue(ctx, "callout:k", v, time.Hour)
		res, ok := co.cached(ctx, log, "k")
		switch {
		case !ok:
		case res.status == probeAccepted:
		case res.status == probeRefused && res.reply.Code/100 == 5:
		default:
			t.Fatalf("%q gave %+v", v, res)
		}
	})
}

// In memory, refused and accepted addresses are kept apart: a dictionary
// attack's flood of refusals does not push out the addresses known good,
// which keep passing without a probe while the attack exhausts the
// domain's callout rate.
func TestCalloutCacheKeepsGoodUnderAttack(t *testing.T) {
	backend := smtptest.Start(t, smtptest.Options{})
	for i := range 30 {
		backend.RefuseRcpt(fmt.Sprintf("guess%d@example.org", i), filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"})
	}
	co := NewCallout(CalloutConfig{Hostname: "gw.test", Timeout: 5 * time.Second, Rate: -1, CacheSize: 10})
	r, err := NewRecipients(RecipientsConfig{Domains: []string{"example.org"}, Callout: co, Backend: backend.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(t, "198.51.100.7")
	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice: %v", v.Reply)
	}
	for i := range 30 {
		if v := rcpt(t, r, c, fmt.Sprintf("guess%d@example.org", i)); v.Reply.Code != 550 {
			t.Fatalf("guess%d: %v", i, v.Reply)
		}
	}
	probes := backend.Connections()
	if v := rcpt(t, r, c, "alice@example.org"); !v.IsPass() {
		t.Fatalf("alice after 30 refused guesses: %v", v.Reply)
	}
	if n := backend.Connections(); n != probes {
		t.Fatalf("alice was probed again after 30 refused guesses (cache of 10): the refusals pushed her out")
	}
}
