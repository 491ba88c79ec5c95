package verify

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// startDNS serves testdata/senders.zone and returns a resolver asking it.
func startDNS(t *testing.T) (*dnstest.Server, resolver.Resolver) {
	t.Helper()
	srv := dnstest.StartFile(t, "testdata/senders.zone")
	srv.ServFail("servfail.test", true)
	srv.Silence("timeout.test", true)
	srv.ServFail("broken.mx-host-servfail.test", true)
	res, err := resolver.New(resolver.Config{Server: srv.Addr(), Timeout: 300 * time.Millisecond, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func TestSenderDomain(t *testing.T) {
	_, res := startDNS(t)
	s, err := NewSender(SenderConfig{Resolver: res, Verify: true, Weights: map[string]float64{TestMXNoAddress: 2}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from string
		want       filters.Reply // zero: accepted
		tests      []filters.Score
	}{
		{name: "MX with an address", from: "u@mx-ok.test"},
		{name: "domain in capitals, trailing dot", from: "u@MX-OK.Test."},
		{name: "no MX, A only (implicit MX)", from: "u@a-only.test"},
		{name: "no MX, AAAA only (implicit MX)", from: "u@aaaa-only.test"},
		{name: "NXDOMAIN", from: "u@nonexistent.test", want: filters.ReplySenderUnknownDomain.About("u@nonexistent.test")},
		{name: "NODATA: no MX, no A, no AAAA", from: "u@nodata.test", want: filters.ReplySenderUnknownDomain.About("u@nodata.test")},
		{name: "null MX", from: "u@nullmx.test", want: filters.ReplySenderNullMX.About("u@nullmx.test")},
		{name: "null MX beside a real MX counts as the real one", from: "u@nullmx-and-more.test"},
		{name: "SERVFAIL", from: "u@servfail.test", want: filters.ReplySenderTempfail.About("u@servfail.test")},
		{name: "timeout", from: "u@timeout.test", want: filters.ReplySenderTempfail.About("u@timeout.test")},
		{name: "MX host SERVFAIL", from: "u@mx-host-servfail.test", want: filters.ReplySenderTempfail.About("u@mx-host-servfail.test")},
		{name: "MX to a CNAME", from: "u@mx-cname.test", tests: []filters.Score{{Test: TestMXCNAME, Points: 0.5}}},
		{name: "MX to an IP literal beside a good MX", from: "u@mx-literal.test",
			tests: []filters.Score{{Test: TestMXIPLiteral, Points: 1.5}, {Test: TestMXNoAddress, Points: 2}}},
		{name: "only MX is an IP literal", from: "u@mx-literal-only.test", want: filters.ReplySenderUnknownDomain.About("u@mx-literal-only.test")},
		{name: "no MX host has an address", from: "u@mx-noaddr.test", want: filters.ReplySenderUnknownDomain.About("u@mx-noaddr.test")},
		{name: "some MX hosts have no address", from: "u@mx-partial.test", tests: []filters.Score{{Test: TestMXNoAddress, Points: 2}}},
		{name: "one MX host failing for now, another fine", from: "u@mx-partial-servfail.test"},
		{name: "null sender", from: ""},
		{name: "domain literal", from: "u@[192.0.2.1]"},
		{name: "malformed domain", from: "u@bad..test", want: filters.ReplySenderUnknownDomain.About("u@bad..test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := filters.NewTransaction(newConn(t, "198.51.100.7"), "Q1")
			tr.MailFrom = tt.from
			v := s.CheckMail(context.Background(), tr)
			if v.Reply != tt.want {
				t.Fatalf("CheckMail(%q) = %q (%s); want %q", tt.from, v.Reply, v.Reason, tt.want)
			}
			if !tt.want.IsZero() {
				if want := filters.Refuse(tt.want, "").Action; v.Action != want {
					t.Fatalf("action %v, want %v", v.Action, want)
				}
			} else if v.Action != filters.Continue {
				t.Fatalf("action %v, want continue", v.Action)
			}
			if !slices.Equal(v.Scores, tt.tests) {
				t.Fatalf("scores %v, want %v (%s)", v.Scores, tt.tests, v.Reason)
			}
		})
	}
}

func TestSenderReplies(t *testing.T) {
	_, res := startDNS(t)
	s, _ := NewSender(SenderConfig{Resolver: res, Verify: true})
	for from, want := range map[string]string{
		"u@nonexistent.test": "550 5.1.8 <u@nonexistent.test>: Sender address rejected: Domain not found",
		"u@nullmx.test":      "550 5.7.27 <u@nullmx.test>: Sender address rejected: Domain does not accept mail (null MX)",
		"u@servfail.test":    "450 4.1.8 <u@servfail.test>: Sender address rejected: Domain not found",
	} {
		tr := filters.NewTransaction(newConn(t, "198.51.100.7"), "Q1")
		tr.MailFrom = from
		if got := s.CheckMail(context.Background(), tr).Reply.String(); got != want {
			t.Errorf("%s: got %q, want %q", from, got, want)
		}
	}
}

// Relay, authenticated and allow-listed clients are the operator's own:
// their senders are not looked up at all.
func TestSenderSkips(t *testing.T) {
	srv, res := startDNS(t)
	s, _ := NewSender(SenderConfig{Resolver: res, Verify: true})
	for name, setup := range map[string]func(c *filters.ClientConn){
		"relay client":   func(c *filters.ClientConn) { c.SetRelayClient(true) },
		"authenticated":  func(c *filters.ClientConn) { c.AuthUser = "alice" },
		"allow.networks": func(c *filters.ClientConn) { c.SetAllowListed(true) },
	} {
		srv.ResetCounts()
		c := newConn(t, "198.51.100.7")
		setup(c)
		tr := filters.NewTransaction(c, "Q1")
		tr.MailFrom = "u@nonexistent.test"
		if v := s.CheckMail(context.Background(), tr); !v.IsPass() {
			t.Errorf("%s: %v", name, v.Reply)
		}
		if n := srv.TotalQueries(); n != 0 {
			t.Errorf("%s: %d DNS queries, want none", name, n)
		}
	}
	if _, err := NewSender(SenderConfig{Resolver: res, Weights: map[string]float64{"SENDER_MX_NO_PREF": 1}}); err == nil {
		t.Error("NewSender accepted an unknown test name")
	}
}

func TestSenderZeroWeightIsOff(t *testing.T) {
	_, res := startDNS(t)
	s, _ := NewSender(SenderConfig{Resolver: res, Verify: true, Weights: map[string]float64{TestMXCNAME: 0}})
	tr := filters.NewTransaction(newConn(t, "198.51.100.7"), "Q1")
	tr.MailFrom = "u@mx-cname.test"
	if v := s.CheckMail(context.Background(), tr); !v.IsPass() {
		t.Fatalf("got %+v, want a plain pass", v)
	}
}
