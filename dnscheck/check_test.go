package dnscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// servers starts the test's name servers: ns1 and ns2 hold the same zones
// except split.test, ns3 holds none of them (lame), ns4 never answers.
func servers(t *testing.T) Config {
	t.Helper()
	ns1 := dnstest.StartFile(t, "testdata/common.zone", "testdata/ns1-split.zone")
	ns2 := dnstest.StartFile(t, "testdata/common.zone", "testdata/ns2-split.zone")
	ns3 := dnstest.Start(t, "$ORIGIN other.test.\n@ 60 IN SOA ns3 h 1 1 1 1 60\n")
	ns4 := dnstest.Start(t, "")
	ns4.SilenceAll(true)
	ns1.Refuse("9.2.0.192.in-addr.arpa.", true)
	ns1.ServFail("h8back.bad.test.", true)
	addrs := map[string]string{"ns1.dns.test.": ns1.Addr(), "ns2.dns.test.": ns2.Addr(), "ns3.dns.test.": ns3.Addr(), "ns4.dns.test.": ns4.Addr()}
	r, err := resolver.New(resolver.Config{Server: ns1.Addr(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Resolver: r,
		Timeout:  2 * time.Second, // generous: a loaded machine must not make a server look dead
		NSAddrs: func(_ context.Context, host string) ([]string, error) {
			if a, ok := addrs[host]; ok {
				return []string{a}, nil
			}
			return nil, fmt.Errorf("no test server for %s", host)
		},
	}
}

func TestCheck(t *testing.T) {
	cfg := servers(t)
	tests := []struct {
		domain string
		codes  []string // problems that are faults, sorted
		notes  []string
	}{
		{"good.test", nil, nil},
		{"GOOD.test.", nil, nil},
		{"alone.bad.test", nil, nil},
		{"alias.bad.test", []string{"mx-cname"}, nil},
		{"literal.bad.test", []string{"mx-literal"}, nil},
		{"gone.bad.test", []string{"mx-nxdomain"}, nil},
		{"noaddr.bad.test", []string{"mx-no-address"}, nil},
		{"nomx.bad.test", []string{"no-mx"}, nil},
		{"nothing.bad.test", []string{"no-mail-host"}, nil},
		{"missing.bad.test", []string{"no-domain"}, nil},
		{"nullmx.bad.test", nil, []string{"null-mx"}},
		{"nullmixed.bad.test", []string{"null-mx-mixed"}, nil},
		{"dup.bad.test", []string{"mx-duplicate"}, nil},
		{"noptr.bad.test", []string{"ptr-missing"}, nil},
		{"mismatch.bad.test", []string{"ptr-mismatch"}, nil},
		{"private.bad.test", []string{"mx-private-address", "ptr-missing"}, nil},
		{"split.test", []string{"ns-disagree", "ns-disagree", "ns-serial"}, nil},
		{"lame.test", []string{"ns-lame"}, nil},
		{"dead.test", []string{"ns-unreachable"}, nil},
		{"single.test", []string{"single-ns"}, nil},
		// A failed lookup is not an answer: no "ptr-missing", no
		// "ptr-mismatch".
		{"refused.bad.test", []string{"lookup-failed"}, nil},
		{"backfail.bad.test", []string{"lookup-failed"}, nil},
		// A domain that does not exist gets that error alone, whether
		// or not a zone holds its parent.
		{"missing.nozone.example", []string{"no-domain"}, nil},
		{"missing.bad.test", []string{"no-domain"}, nil},
		// No SOA is an answer, not a temporary failure.
		{"nosoa.example", []string{"no-soa"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			rep, err := Check(context.Background(), tt.domain, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var codes, notes []string
			for _, p := range rep.Problems {
				if p.Level == LevelNote {
					notes = append(notes, p.Code)
				} else {
					codes = append(codes, p.Code)
				}
			}
			slices.Sort(codes)
			if !slices.Equal(codes, tt.codes) || !slices.Equal(notes, tt.notes) {
				t.Errorf("problems %v, notes %v; want %v, %v\n%s", codes, notes, tt.codes, tt.notes, text(rep))
			}
			if rep.Faulty() != (len(tt.codes) > 0) {
				t.Errorf("Faulty() = %v", rep.Faulty())
			}
		})
	}
}

func text(r *Report) string {
	var b bytes.Buffer
	r.WriteText(&b)
	return b.String()
}

func TestReportContents(t *testing.T) {
	cfg := servers(t)
	rep, err := Check(context.Background(), "good.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Zone != "good.test." || len(rep.MX) != 2 || rep.MX[0].Host != "mx1.good.test." || len(rep.MX[0].Addresses) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	for _, a := range rep.MX[0].Addresses {
		if !a.ForwardConfirmed || !slices.Equal(a.PTR, []string{"mx1.good.test."}) {
			t.Errorf("address %+v: want PTR mx1.good.test., forward-confirmed", a)
		}
	}
	if len(rep.NameServers) != 2 || rep.NameServers[0].Serial != 2026010101 || !rep.NameServers[1].Authoritative {
		t.Errorf("name servers: %+v", rep.NameServers)
	}
	out := text(rep)
	for _, want := range []string{"MX      10 mx1.good.test.", "2001:db8::1", "PTR mx1.good.test.", "serial 2026010101", "no problems found"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.MX[1].Host != "mx2.good.test." {
		t.Errorf("JSON round trip: %v %s", err, b)
	}

	rep, _ = Check(context.Background(), "split.test", cfg)
	out = text(rep)
	if !strings.Contains(out, `disagree on the MX of split.test.`) || !strings.Contains(out, "10 old-mx.split.test.") || !strings.Contains(out, "3 problems found") {
		t.Errorf("split.test text:\n%s", out)
	}
}

// A failed lookup is shown as failed, never as a missing record, and each
// finding stays on one line of the report whatever its error held.
func TestReportFailedLookups(t *testing.T) {
	cfg := servers(t)
	rep, err := Check(context.Background(), "refused.bad.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := text(rep)
	if strings.Contains(out, "no PTR") || !strings.Contains(out, "192.0.2.9") || !strings.Contains(out, "PTR lookup failed (REFUSED)") {
		t.Errorf("REFUSED PTR shown as:\n%s", out)
	}
	if a := rep.MX[0].Addresses[0]; a.PTRError != "REFUSED" {
		t.Errorf("address %+v: want ptr_error REFUSED", a)
	}
	rep, err = Check(context.Background(), "backfail.bad.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	out = text(rep)
	if strings.Contains(out, "does not resolve back") || !strings.Contains(out, "PTR h8back.bad.test. (not checked: lookup failed, SERVFAIL)") {
		t.Errorf("unresolvable PTR name shown as:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "domain ") && !strings.HasPrefix(l, "MX ") && !strings.HasPrefix(l, "NS ") &&
			!strings.HasPrefix(l, "          ") && !strings.HasPrefix(l, "error: ") && !strings.HasPrefix(l, "warning: ") &&
			!strings.HasPrefix(l, "note: ") && !strings.HasSuffix(l, "found") {
			t.Errorf("line out of the layout: %q\n%s", l, out)
		}
	}
}

func TestReportOneLinePerFinding(t *testing.T) {
	r := &Report{Domain: "x.test.", MX: []MX{}, NameServers: []NameServer{{Name: "ns.x.test.", Address: "192.0.2.1:53", Error: "first\nsecond"}}}
	r.add(LevelWarning, "lookup-failed", "lookup failed: %v", errors.Join(errors.New("A: SERVFAIL"), errors.New("AAAA: timeout")))
	r.Problems = append(r.Problems, Problem{Level: LevelError, Code: "x", Message: "made\r\nelsewhere"})
	out := text(r)
	want := "domain  x.test.\n" +
		"NS      ns.x.test. 192.0.2.1:53  first; second\n\n" +
		"warning: lookup failed: A: SERVFAIL; AAAA: timeout [lookup-failed]\n" +
		"error:   made; elsewhere [x]\n" +
		"2 problems found\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if r.Problems[0].Message != "lookup failed: A: SERVFAIL; AAAA: timeout" {
		t.Errorf("message kept its line break for JSON: %q", r.Problems[0].Message)
	}
}

func TestBadInput(t *testing.T) {
	cfg := servers(t)
	for _, d := range []string{"", "user@example.org", "a..b"} {
		if _, err := Check(context.Background(), d, cfg); err == nil {
			t.Errorf("Check(%q) accepted", d)
		}
	}
}
