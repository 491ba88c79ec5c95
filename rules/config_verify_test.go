package rules

import (
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
	"mailguard/verify"
)

func TestVerifyConfig(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(`
domains: [example.org]
verify:
  scores: {SENDER_MX_CNAME: 2}
  callout: {rate: 0, sender_port: 2525, negative_ttl: 10m}
`))
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Verify
	if v.Scores[verify.TestMXCNAME] != 2 || v.Scores[verify.TestMXIPLiteral] != verify.DefaultSenderWeights[verify.TestMXIPLiteral] {
		t.Errorf("scores %v: want SENDER_MX_CNAME=2 and the other defaults", v.Scores)
	}
	if v.Callout.Rate != 0 || v.Callout.Burst != 20 || v.Callout.SenderPort != 2525 ||
		v.Callout.NegativeTTL != 10*time.Minute || v.Callout.PositiveTTL != 24*time.Hour {
		t.Errorf("callout %+v", v.Callout)
	}
}

func TestVerifyConfigProblems(t *testing.T) {
	tests := []problemCase{
		{"verify: {scores: {SENDER_MX_CNAM: 1}}", "verify.scores.SENDER_MX_CNAM", "did you mean SENDER_MX_CNAME"},
		{"verify: {callout: {rate: -1}}", "verify.callout.rate", "0 for no limit"},
		{"verify: {callout: {burst: 0}}", "verify.callout.burst", "at least 1"},
		{"verify: {callout: {timeout: 0s}}", "verify.callout.timeout", "more than 0"},
		{"verify: {callout: {sender_port: 70000}}", "verify.callout.sender_port", "1-65535"},
		{"recipients: {callout: true}", "recipients.callout", "domains is empty"},
	}
	expectProblems(t, 0, tests)
}

// The verify areas take their places in the chain.
func TestBuildVerify(t *testing.T) {
	srv := dnstest.Start(t, "test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 120\n")
	res, err := resolver.New(resolver.Config{Server: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("test.yaml", []byte("domains: [example.org]\nrecipients: {callout: true}\nsender_callout: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Deps{Resolver: res}
	defer d.Close()
	chain, err := BuildChain(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range chain.Filters() {
		switch f.Name() {
		case "lists", "relay", "sender", "recipients":
			names = append(names, f.Name())
		}
	}
	if got := strings.Join(names, ","); got != "lists,relay,sender,recipients" {
		t.Fatalf("verify filters %q, want lists,relay,sender,recipients", got)
	}
	// A reload with the same settings shares the callout and its caches.
	if _, err := BuildChain(cfg, d); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range d.order {
		if strings.HasPrefix(k, "verify:callout") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d callouts after two builds, want one shared", n)
	}
}
