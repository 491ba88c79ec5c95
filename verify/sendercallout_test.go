package verify

import (
	"context"
	"net"
	"strconv"
	"testing"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

func TestSenderCallout(t *testing.T) {
	_, res := startDNS(t)
	mx := smtptest.Start(t, smtptest.Options{})
	_, port, _ := net.SplitHostPort(mx.Addr)
	p, _ := strconv.Atoi(port)
	mx.RefuseRcpt("gone@callout.test", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"})
	mx.RefuseRcpt("later@callout.test", filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "Try later"})
	s, err := NewSender(SenderConfig{Resolver: res, Verify: true, Callout: NewCallout(CalloutConfig{Rate: -1}), CalloutPort: p})
	if err != nil {
		t.Fatal(err)
	}
	check := func(from string) filters.Verdict {
		tr := filters.NewTransaction(newConn(t, "198.51.100.7"), "Q1")
		tr.MailFrom = from
		return s.CheckMail(context.Background(), tr)
	}
	tests := []struct {
		from   string
		want   string // "" accepted
		probes int    // connections to the MX after this step
	}{
		{from: "alice@callout.test", probes: 1},
		{from: "ALICE@callout.test", probes: 1}, // cached
		{from: "gone@callout.test", probes: 2,
			want: "550 5.1.7 <gone@callout.test>: Sender address rejected: undeliverable address; " + mx.Addr + " said: 550 5.1.1 No such user"},
		{from: "gone@callout.test", probes: 2,
			want: "550 5.1.7 <gone@callout.test>: Sender address rejected: undeliverable address; " + mx.Addr + " said: 550 5.1.1 No such user"},
		{from: "later@callout.test", probes: 3, want: "450 4.1.7 <later@callout.test>: Sender address rejected: unverified address"},
		{from: "later@callout.test", probes: 4, want: "450 4.1.7 <later@callout.test>: Sender address rejected: unverified address"},
		// The first MX refuses connections; the second answers.
		{from: "bob@fallback.test", probes: 5},
		// No MX: the domain's own address is the mail host.
		{from: "carol@implicit.test", probes: 6},
		// Domains that fail the DNS check are not probed.
		{from: "dave@nonexistent.test", probes: 6, want: "550 5.1.8 <dave@nonexistent.test>: Sender address rejected: Domain not found"},
		{from: "", probes: 6},
	}
	for _, tt := range tests {
		v := check(tt.from)
		if got := v.Reply.String(); (tt.want == "" && !v.Reply.IsZero()) || (tt.want != "" && got != tt.want) {
			t.Fatalf("%q: %q (%s), want %q", tt.from, got, v.Reason, tt.want)
		}
		if n := mx.Connections(); n != tt.probes {
			t.Fatalf("%q: %d probes so far, want %d", tt.from, n, tt.probes)
		}
	}
	if n := mx.Count(); n != 0 {
		t.Fatalf("probes delivered %d messages", n)
	}
	mx.Stop()
	if v := check("eve@callout.test"); v.Reply != filters.ReplySenderUnverifiedTmp.About("eve@callout.test") {
		t.Fatalf("MX down: %q", v.Reply)
	}
}
