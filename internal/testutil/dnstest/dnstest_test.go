package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, netw, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	return askWithin(s, netw, name, qtype, 5*time.Second)
}

func askWithin(s *Server, netw, name string, qtype uint16, d time.Duration) (*dns.Msg, error) {
	c := &dns.Client{Net: netw, Timeout: d}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, s.Addr())
	return r, err
}

func TestAnswers(t *testing.T) {
	s := StartFile(t, "testdata/example.zone")
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
		soa     bool
	}{
		{"example.org", dns.TypeMX, dns.RcodeSuccess, 1, false},
		{"MX1.example.org", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"mx1.example.org", dns.TypeTXT, dns.RcodeSuccess, 0, true},  // NODATA
		{"nope.example.org", dns.TypeA, dns.RcodeNameError, 0, true}, // NXDOMAIN
		{"b.deep.example.org", dns.TypeA, dns.RcodeSuccess, 0, true}, // empty non-terminal
		{"alias.example.org", dns.TypeAAAA, dns.RcodeSuccess, 2, false},
		{"loop1.example.org", dns.TypeA, dns.RcodeServerFailure, 0, false},
	}
	for _, tt := range tests {
		for _, netw := range []string{"udp", "tcp"} {
			r, err := ask(t, s, netw, tt.name, tt.qtype)
			if err != nil {
				t.Fatalf("%s %s: %v", netw, tt.name, err)
			}
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answers || (len(r.Ns) == 1) != tt.soa {
				t.Errorf("%s %s %s: rcode %s, %d answers, %d ns; want %s, %d, soa %v",
					netw, tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns),
					dns.RcodeToString[tt.rcode], tt.answers, tt.soa)
			}
			if tt.rcode != dns.RcodeServerFailure && !r.Authoritative {
				t.Errorf("%s %s: answer not authoritative", netw, tt.name)
			}
		}
	}
}

func TestKnobs(t *testing.T) {
	s := StartFile(t, "testdata/example.zone")

	s.ServFail("mx1.example.org", true)
	if r, err := ask(t, s, "udp", "mx1.example.org", dns.TypeA); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("servfail: %v %v", r, err)
	}
	s.ServFail("mx1.example.org", false)

	s.Silence("example.org", true)
	if _, err := askWithin(s, "udp", "example.org", dns.TypeMX, 300*time.Millisecond); err == nil {
		t.Errorf("silenced name was answered")
	}
	s.Silence("example.org", false)

	s.TruncateUDP(true)
	r, err := ask(t, s, "udp", "example.org", dns.TypeMX)
	if err != nil || !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("forced truncation: %v %v", r, err)
	}
	r, err = ask(t, s, "tcp", "example.org", dns.TypeMX)
	if err != nil || r.Truncated || len(r.Answer) != 1 {
		t.Errorf("tcp under forced truncation: %v %v", r, err)
	}
	s.TruncateUDP(false)

	// Too big for 512 octets without EDNS0: truncated on UDP only.
	r, err = ask(t, s, "udp", "big.example.org", dns.TypeTXT)
	if err != nil || !r.Truncated {
		t.Errorf("large answer over udp not truncated: %v", err)
	}

	if n := s.Queries("EXAMPLE.org.", dns.TypeMX); n != 3 {
		t.Errorf("Queries(example.org MX) = %d, want 3", n)
	}
	s.ResetCounts()
	if s.TotalQueries() != 0 {
		t.Errorf("counts not reset")
	}

	if err := s.SetZone("$ORIGIN example.org.\n@ 60 IN SOA ns1 h 2 1 1 1 60\nnew 60 IN A 192.0.2.9\n"); err != nil {
		t.Fatal(err)
	}
	if r, _ := ask(t, s, "udp", "new.example.org", dns.TypeA); r == nil || len(r.Answer) != 1 {
		t.Errorf("new zone not served")
	}
	if r, _ := ask(t, s, "udp", "mx1.example.org", dns.TypeA); r == nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("old zone still served")
	}
	if err := s.AddRR("x.example.org. 60 IN A 192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	if r, _ := ask(t, s, "tcp", "x.example.org", dns.TypeA); r == nil || len(r.Answer) != 1 {
		t.Errorf("added record not served")
	}
	if err := s.SetZone("bad zone ((("); err == nil {
		t.Errorf("bad zone accepted")
	}
}
