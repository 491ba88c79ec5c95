package uribl

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/internal/testutil/logbuf"
	"mailguard/rbl"
	"mailguard/resolver"
)

func list(zone string, reject bool, weight float64) List {
	return List{List: rbl.List{Zone: zone, Reject: reject, Weight: weight}}
}

// TestFilter: the filter against a real DNS server answering from zone
// text. A listed domain refuses the message (reject list) or scores under
// URIBL_<ZONE> with the domain as detail (score list); the lists' "query
// refused" answer is never a listing; codes and masks narrow as for dnsbl;
// a host list is asked the host.
func TestFilter(t *testing.T) {
	dns := dnstest.StartFile(t, "testdata/lists.zone")
	res, err := resolver.New(resolver.Config{Server: dns.Addr(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	multiMasked := list("multi.test", false, 2)
	multiMasked.Mask = 0x08
	multiMissed := list("multi.test", false, 2)
	multiMissed.Codes = []netip.Addr{netip.MustParseAddr("127.0.0.4")}
	hosts := list("multi.test", false, 1.5)
	hosts.Hosts = true
	tests := []struct {
		name   string
		body   string
		lists  []List
		reply  string
		scores string
		log    string
	}{
		{"reject list", "Go to https://www.example.com/x now", []List{list("dbl.test", true, 0)},
			"554 5.7.1 Message rejected: body links to example.com, blocked using dbl.test; listed in dbl.test; queue id Q1", "", "reject: link to a listed domain"},
		{"score list", "Go to https://www.example.com/x and hxxp://landing-page[.]net", []List{list("dbl.test", false, 4)},
			"", "URIBL_DBL_TEST=4.0 URIBL_DBL_TEST[example.com,landing-page.net]", "domain=landing-page.net"},
		{"query refused is not listed", "see http://refused-site.com/", []List{list("dbl.test", true, 0)},
			"", "", "answer=127.255.255.254"},
		{"not listed", "see http://clean.example.org/", []List{list("dbl.test", true, 0)}, "", "", ""},
		{"address in a URL", "see http://203.0.113.7/a", []List{list("dbl.test", true, 0)},
			"554 5.7.1 Message rejected: body links to 203.0.113.7, blocked using dbl.test; queue id Q1", "", ""},
		{"mask matches", "http://example.com/", []List{multiMasked}, "", "URIBL_MULTI_TEST=2.0 URIBL_MULTI_TEST[example.com]", ""},
		{"codes exclude", "http://example.com/", []List{multiMissed}, "", "", ""},
		{"hosts list", "http://evil-site.example.com/", []List{hosts}, "", "URIBL_MULTI_TEST=1.5 URIBL_MULTI_TEST[evil-site.example.com]", ""},
	}
	for _, tt := range tests {
		lb := &logbuf.Buffer{}
		log := slog.New(slog.NewTextHandler(lb, nil))
		f := New(Config{Lists: tt.lists, Resolver: res, Log: log})
		c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.1"), Log: log}
		tr := filters.NewTransaction(c, "Q1")
		tr.Log = log
		m := filters.NewMessage([]byte("From: a@sender.test\r\nSubject: hi\r\n\r\n" + tt.body + "\r\n"))
		v := f.CheckMessage(context.Background(), tr, m)
		got := ""
		if !v.Reply.IsZero() {
			got = v.Reply.String()
		}
		if got != tt.reply {
			t.Errorf("%s: reply %q, want %q", tt.name, got, tt.reply)
		}
		var sc []string
		for _, s := range v.Scores {
			sc = append(sc, s.Test+"="+filters.FormatPoints(s.Points))
		}
		if d := filters.FormatDetails(v.Scores); d != "" {
			sc = append(sc, d)
		}
		if g := strings.Join(sc, " "); g != tt.scores {
			t.Errorf("%s: scores %q, want %q", tt.name, g, tt.scores)
		}
		if tt.log != "" && !strings.Contains(lb.String(), tt.log) {
			t.Errorf("%s: log lacks %q:\n%s", tt.name, tt.log, lb.String())
		}
	}
}

// TestFilterCap: a message linking to many domains makes at most
// MaxLookups queries to a list.
func TestFilterCap(t *testing.T) {
	dns := dnstest.StartFile(t, "testdata/lists.zone")
	res, err := resolver.New(resolver.Config{Server: dns.Addr(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 50 {
		b.WriteString("http://site" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".com/ ")
	}
	f := New(Config{Lists: []List{list("dbl.test", false, 1)}, Resolver: res, MaxLookups: 7, Log: slog.New(slog.DiscardHandler)})
	tr := filters.NewTransaction(&filters.ClientConn{}, "Q2")
	f.CheckMessage(context.Background(), tr, filters.NewMessage([]byte("Subject: x\r\n\r\n"+b.String()+"\r\n")))
	if n := dns.TotalQueries(); n != 7 {
		t.Errorf("%d queries, want 7", n)
	}
}
