package resolver

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailguard/internal/testutil/dnstest"
)

func newTest(t *testing.T, server string, clk *clock) Resolver {
	t.Helper()
	cfg := Config{Server: server, Timeout: 2 * time.Second}
	if clk != nil {
		cfg.Now = clk.Now
	} else {
		cfg.CacheSize = -1
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLookupAnswers(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	r := newTest(t, s.Addr(), nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		qtype   uint16
		records int
		nx      bool
		cnames  []string
	}{
		{"example.org", dns.TypeMX, 2, false, nil},
		{"MX1.Example.Org.", dns.TypeAAAA, 1, false, nil},
		{"mx2.example.org", dns.TypeAAAA, 0, false, nil}, // NODATA
		{"missing.example.org", dns.TypeA, 0, true, nil},
		{"www.example.org", dns.TypeA, 1, false, []string{"web.example.org.", "mx1.example.org."}},
		// The server answers only the alias; the resolver asks for the
		// target itself, which does not exist.
		{"away.example.org", dns.TypeA, 0, true, []string{"target.elsewhere.test."}},
	}
	for _, tt := range tests {
		res, err := r.Lookup(ctx, tt.name, tt.qtype)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(res.Records) != tt.records || res.NXDomain != tt.nx || !slices.Equal(res.CNAMEs, tt.cnames) {
			t.Errorf("%s %s: %d records, nxdomain %v, cnames %v; want %d, %v, %v",
				tt.name, dns.TypeToString[tt.qtype], len(res.Records), res.NXDomain, res.CNAMEs, tt.records, tt.nx, tt.cnames)
		}
	}
	if n := s.Queries("target.elsewhere.test", dns.TypeA); n != 1 {
		t.Errorf("alias target asked %d times, want 1", n)
	}
}

func TestHelpers(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	r := newTest(t, s.Addr(), newClock())
	ctx := context.Background()

	mxs, _, err := LookupMX(ctx, r, "example.org")
	if err != nil || len(mxs) != 2 || mxs[0].Mx != "mx1.example.org." || mxs[1].Preference != 20 {
		t.Errorf("LookupMX = %v, %v; want mx1 (10) then mx2 (20)", mxs, err)
	}
	_, res, err := LookupMX(ctx, r, "nothere.example.org")
	if err != nil || !res.NXDomain {
		t.Errorf("LookupMX(missing) NXDomain = %v, %v", res.NXDomain, err)
	}

	ips, err := LookupIP(ctx, r, "mx1.example.org")
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	if err != nil || !slices.Equal(ips, want) {
		t.Errorf("LookupIP = %v, %v; want %v", ips, err, want)
	}
	if ips, err := LookupIP(ctx, r, "missing.example.org"); err != nil || len(ips) != 0 {
		t.Errorf("LookupIP(missing) = %v, %v; want none, no error", ips, err)
	}

	txt, err := LookupTXT(ctx, r, "example.org")
	if err != nil || !slices.Equal(txt, []string{"v=spf1 -all"}) {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}

	txt, err = LookupTXT(ctx, r, "esc.example.org")
	if err != nil || !slices.Equal(txt, []string{"a\"b\\c\nd-end"}) {
		t.Errorf("LookupTXT(escapes) = %q, %v", txt, err)
	}

	for _, ip := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"} {
		names, err := LookupAddr(ctx, r, netip.MustParseAddr(ip))
		if err != nil || !slices.Equal(names, []string{"mx1.example.org."}) {
			t.Errorf("LookupAddr(%s) = %v, %v", ip, names, err)
		}
	}

	s.ServFail("mx2.example.org", true)
	s.AddRR("mx2.example.org. 300 IN AAAA 2001:db8::2")
	if ips, err := LookupIP(ctx, r, "mx2.example.org"); err == nil || !errors.Is(err, ErrTemporary) {
		t.Errorf("LookupIP under SERVFAIL = %v, %v; want a temporary error", ips, err)
	}
}

func TestReverseName(t *testing.T) {
	tests := []struct{ ip, zone, want string }{
		{"127.0.0.2", "zen.example", "2.0.0.127.zen.example."},
		{"192.0.2.1", "", "1.2.0.192.in-addr.arpa."},
		{"::ffff:10.1.2.3", "bl.example.", "3.2.1.10.bl.example."},
		{"2001:db8::1", "", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
		{"2001:DB8:abcd::ff", "v6.bl.example", "f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.b.d.0.1.0.0.2.v6.bl.example."},
	}
	for _, tt := range tests {
		if got := ReverseName(netip.MustParseAddr(tt.ip), tt.zone); got != tt.want {
			t.Errorf("ReverseName(%s, %q) = %s, want %s", tt.ip, tt.zone, got, tt.want)
		}
	}
}

func TestFailures(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	r := newTest(t, s.Addr(), nil)
	ctx := context.Background()

	s.ServFail("mx1.example.org", true)
	if _, err := r.Lookup(ctx, "mx1.example.org", dns.TypeA); !errors.Is(err, ErrTemporary) {
		t.Errorf("SERVFAIL: err = %v, want ErrTemporary", err)
	}
	if n := s.Queries("mx1.example.org", dns.TypeA); n != 2 {
		t.Errorf("SERVFAIL asked %d times, want 2 (one retry)", n)
	}

	s.Silence("mx2.example.org", true)
	if _, err := r.Lookup(ctx, "mx2.example.org", dns.TypeA); !errors.Is(err, ErrTemporary) {
		t.Errorf("silent server: err = %v, want ErrTemporary", err)
	}
	if n := s.Queries("mx2.example.org", dns.TypeA); n != 2 {
		t.Errorf("silent server asked %d times, want 2 (one retry)", n)
	}

	// The caller's deadline is shorter than the configured timeout.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := r.Lookup(cctx, "mx2.example.org", dns.TypeA); !errors.Is(err, ErrTemporary) {
		t.Errorf("caller deadline: err = %v, want ErrTemporary", err)
	}

	if _, err := r.Lookup(ctx, "bad..name", dns.TypeA); !errors.Is(err, ErrBadName) || errors.Is(err, ErrTemporary) {
		t.Errorf("bad name: err = %v, want ErrBadName, not temporary", err)
	}

	s.TruncateUDP(true)
	res, err := r.Lookup(ctx, "example.org", dns.TypeMX)
	if err != nil || len(res.Records) != 2 {
		t.Errorf("truncated answer: %v, %v; want 2 MX over TCP", res, err)
	}
}

func TestRetryNextServer(t *testing.T) {
	dead := dnstest.StartFile(t, "testdata/example.zone")
	dead.SilenceAll(true)
	good := dnstest.StartFile(t, "testdata/example.zone")
	r := newTest(t, dead.Addr()+","+good.Addr(), nil)
	res, err := r.Lookup(context.Background(), "mx1.example.org", dns.TypeA)
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("lookup with a dead first server: %v, %v", res, err)
	}
	if dead.TotalQueries() != 1 || good.TotalQueries() != 1 {
		t.Errorf("queries: dead %d, good %d; want 1 and 1", dead.TotalQueries(), good.TotalQueries())
	}
}

// TestCacheExpiry moves the cache's clock past each kind of TTL and counts
// the questions that reach the server.
func TestCacheExpiry(t *testing.T) {
	tests := []struct {
		name   string
		qtype  uint16
		fail   bool
		keep   time.Duration // still cached this long after the first answer
		expire time.Duration // asked again after this long
	}{
		{"mx1.example.org", dns.TypeA, false, 299 * time.Second, 301 * time.Second},        // TTL 300
		{"short.example.org", dns.TypeA, false, 59 * time.Second, 61 * time.Second},        // TTL 5 raised to 1 min
		{"long.example.org", dns.TypeA, false, 23 * time.Hour, 24*time.Hour + time.Second}, // 2 days cut to 1 day
		{"missing.example.org", dns.TypeA, false, 119 * time.Second, 121 * time.Second},    // NXDOMAIN: SOA minimum 120
		{"mx2.example.org", dns.TypeTXT, false, 119 * time.Second, 121 * time.Second},      // NODATA: SOA minimum 120
		{"x.shortneg.test", dns.TypeA, false, 89 * time.Second, 91 * time.Second},          // SOA TTL 90 < minimum 3600
		{"web.example.org", dns.TypeMX, true, 29 * time.Second, 31 * time.Second},          // SERVFAIL: 30 s
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			s := dnstest.StartFile(t, "testdata/example.zone")
			if tt.fail {
				s.ServFail(tt.name, true)
			}
			clk := newClock()
			r := newTest(t, s.Addr(), clk)
			ctx := context.Background()
			first, err1 := r.Lookup(ctx, tt.name, tt.qtype)
			asked := s.Queries(tt.name, tt.qtype)
			if asked == 0 {
				t.Fatal("the server was not asked")
			}
			clk.Advance(tt.keep)
			again, err2 := r.Lookup(ctx, tt.name, tt.qtype)
			if n := s.Queries(tt.name, tt.qtype); n != asked {
				t.Errorf("asked again after %v (cached answer expired early)", tt.keep)
			}
			if (err1 == nil) != (err2 == nil) || len(first.Records) != len(again.Records) || first.NXDomain != again.NXDomain {
				t.Errorf("cached answer differs: %v %v / %v %v", first, err1, again, err2)
			}
			clk.Advance(tt.expire - tt.keep)
			r.Lookup(ctx, tt.name, tt.qtype)
			if n := s.Queries(tt.name, tt.qtype); n == asked {
				t.Errorf("not asked again after %v (cached too long)", tt.expire)
			}
		})
	}
}

func TestCacheTTLCountsDown(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	clk := newClock()
	r := newTest(t, s.Addr(), clk)
	r.Lookup(context.Background(), "mx1.example.org", dns.TypeA)
	clk.Advance(100 * time.Second)
	res, _ := r.Lookup(context.Background(), "mx1.example.org", dns.TypeA)
	if res.TTL != 200*time.Second {
		t.Errorf("TTL after 100 s = %v, want 200s", res.TTL)
	}
}

func TestConcurrentQuestionsCollapse(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	s.SetDelay(100 * time.Millisecond)
	r := newTest(t, s.Addr(), newClock())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			res, err := r.Lookup(context.Background(), "mx1.example.org", dns.TypeA)
			if err == nil && len(res.Records) != 1 {
				err = errors.New("no record")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.Queries("mx1.example.org", dns.TypeA); n != 1 {
		t.Errorf("20 concurrent lookups sent %d queries, want 1", n)
	}
}

func TestAskServer(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	res, err := AskServer(context.Background(), s.Addr(), "example.org", dns.TypeMX, time.Second)
	if err != nil || !res.Authoritative || len(res.Records) != 2 {
		t.Errorf("AskServer = %+v, %v", res, err)
	}
	res, err = AskServer(context.Background(), s.Addr(), "missing.example.org", dns.TypeMX, time.Second)
	if err != nil || !res.NXDomain || len(res.Authority) != 1 {
		t.Errorf("AskServer(missing) = %+v, %v; want NXDOMAIN with the SOA", res, err)
	}
	s.SilenceAll(true)
	if _, err := AskServer(context.Background(), s.Addr(), "example.org", dns.TypeMX, 50*time.Millisecond); !errors.Is(err, ErrTemporary) {
		t.Errorf("AskServer(silent) err = %v", err)
	}
}

func TestServerList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"127.0.0.1:5353", []string{"127.0.0.1:5353"}},
		{"127.0.0.1", []string{"127.0.0.1:53"}},
		{"::1", []string{"[::1]:53"}},
		{"[::1]:5353, 10.0.0.1", []string{"[::1]:5353", "10.0.0.1:53"}},
	}
	for _, tt := range tests {
		got, err := serverList(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("serverList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestServerWithoutEDNS(t *testing.T) {
	s := dnstest.StartFile(t, "testdata/example.zone")
	s.RejectEDNS(true)
	r := newTest(t, s.Addr(), nil)
	res, err := r.Lookup(context.Background(), "example.org", dns.TypeMX)
	if err != nil || len(res.Records) != 2 {
		t.Errorf("lookup from a server without EDNS0: %v, %v", res, err)
	}
}
