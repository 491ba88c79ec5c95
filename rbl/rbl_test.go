package rbl

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/internal/testutil/logbuf"
	"mailguard/resolver"
)

type env struct {
	dns   *dnstest.Server
	res   resolver.Resolver
	log   *slog.Logger
	lines *logbuf.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := dnstest.StartFile(t, "testdata/lists.zone")
	s.ServFail("14.2.0.192.bl.test", true)
	s.Silence("15.2.0.192.bl.test", true)
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lb := &logbuf.Buffer{}
	return &env{dns: s, res: r, lines: lb, log: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// session drives a chain as a front end would, up to one RCPT TO (or two),
// and returns the last RCPT verdict and the transaction.
type session struct {
	ip       string
	helo     string
	from     string
	rcpts    int
	allow    bool
	auth     string
	noConnct bool // the connect phase did not run (a reload mid-connection)
}

func (e *env) run(t *testing.T, fs []filters.Filter, s session) (filters.Verdict, *filters.Transaction) {
	t.Helper()
	ch := filters.NewChain(filters.ChainConfig{Filters: fs, Log: e.log})
	ctx := context.Background()
	c := &filters.ClientConn{ClientIP: netip.MustParseAddr(s.ip), Helo: s.helo, AuthUser: s.auth, Log: e.log.With("client", s.ip)}
	c.SetAllowListed(s.allow)
	if !s.noConnct {
		if v := ch.Connect(ctx, c); !v.IsPass() {
			t.Fatalf("connect: %+v", v)
		}
		ch.Helo(ctx, c)
	}
	tr := filters.NewTransaction(c, "4XyZq1")
	tr.MailFrom = s.from
	ch.Mail(ctx, tr)
	if s.rcpts == 0 {
		s.rcpts = 1
	}
	var v filters.Verdict
	for range s.rcpts {
		v = ch.Rcpt(ctx, tr, "user@example.org")
	}
	return v, tr
}

func dnsbl(e *env, lists ...List) []filters.Filter {
	return []filters.Filter{NewDNSBL(Config{Lists: lists, Resolver: e.res, Timeout: 2 * time.Second, Log: e.log})}
}

func TestDNSBL(t *testing.T) {
	reject := List{Zone: "bl.test", Reject: true}
	tests := []struct {
		name   string
		lists  []List
		s      session
		reply  string // "" means passed
		scores []filters.Score
		log    string // a line the operator must find in the log
	}{
		{"listed with reason", []List{reject}, session{ip: "192.0.2.10"},
			"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using bl.test; spam source  250 fake; see https://bl.test/q?ip=192.0.2.10; queue id 4XyZq1", nil, "client listed"},
		{"listed without reason", []List{reject}, session{ip: "192.0.2.17"},
			"554 5.7.1 Service unavailable; Client host [192.0.2.17] blocked using bl.test; queue id 4XyZq1", nil, ""},
		{"RFC 5782 test entry", []List{reject}, session{ip: "127.0.0.2"},
			"554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; test entry; queue id 4XyZq1", nil, ""},
		{"IPv6 client, nibble name", []List{reject}, session{ip: "2001:db8::5"},
			"554 5.7.1 Service unavailable; Client host [2001:db8::5] blocked using bl.test; v6 spammer; queue id 4XyZq1", nil, ""},
		{"IPv4-mapped client", []List{reject}, session{ip: "::ffff:192.0.2.17"},
			"554 5.7.1 Service unavailable; Client host [192.0.2.17] blocked using bl.test; queue id 4XyZq1", nil, ""},
		{"not listed", []List{reject}, session{ip: "192.0.2.1"}, "", nil, ""},
		{"query refused code", []List{reject}, session{ip: "192.0.2.12"}, "", nil, "answer=127.255.255.254"},
		{"answer outside 127/8", []List{reject}, session{ip: "192.0.2.13"}, "", nil, "answer=192.0.2.99"},
		{"SERVFAIL", []List{reject}, session{ip: "192.0.2.14"}, "", nil, "dns list lookup failed; counted as not listed"},
		{"silent server", []List{reject}, session{ip: "192.0.2.15"}, "", nil, "counted as not listed"},
		{"codes exclude the answer", []List{{Zone: "bl.test", Reject: true, Codes: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}},
			session{ip: "192.0.2.11"}, "", nil, ""},
		{"codes include the answer", []List{{Zone: "bl.test", Reject: true, Codes: []netip.Addr{netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.10")}}},
			session{ip: "192.0.2.11"}, "554 5.7.1 Service unavailable; Client host [192.0.2.11] blocked using bl.test; queue id 4XyZq1", nil, ""},
		{"mask matches a bit", []List{{Zone: "bl.test", Reject: true, Mask: 0x02}}, session{ip: "192.0.2.16"},
			"554 5.7.1 Service unavailable; Client host [192.0.2.16] blocked using bl.test; queue id 4XyZq1", nil, ""},
		{"mask misses", []List{{Zone: "bl.test", Reject: true, Mask: 0x08}}, session{ip: "192.0.2.16"}, "", nil, ""},
		{"allow-listed client", []List{reject}, session{ip: "192.0.2.10", allow: true}, "", nil, ""},
		{"authenticated client", []List{reject}, session{ip: "192.0.2.10", auth: "alice"}, "", nil, ""},
		{"connect phase skipped", []List{reject}, session{ip: "192.0.2.10", noConnct: true},
			"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using bl.test; spam source  250 fake; see https://bl.test/q?ip=192.0.2.10; queue id 4XyZq1", nil, ""},
		{"score list, once per transaction", []List{{Zone: "score.test", Weight: 2.5}, {Zone: "wl.test", Weight: -3}}, session{ip: "192.0.2.10", rcpts: 3},
			"", []filters.Score{{Test: "RCVD_IN_SCORE_TEST", Points: 2.5}}, "test=RCVD_IN_SCORE_TEST"},
		{"allow list lowers the score", []List{{Zone: "score.test", Weight: 2.5}, {Zone: "wl.test", Weight: -3}}, session{ip: "192.0.2.20", rcpts: 2},
			"", []filters.Score{{Test: "RCVD_IN_SCORE_TEST", Points: 2.5}, {Test: "RCVD_IN_WL_TEST", Points: -3}}, ""},
		{"first reject list wins", []List{{Zone: "score.test", Weight: 1}, reject}, session{ip: "192.0.2.10"},
			"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using bl.test; spam source  250 fake; see https://bl.test/q?ip=192.0.2.10; queue id 4XyZq1", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			v, tr := e.run(t, dnsbl(e, tt.lists...), tt.s)
			got := ""
			if !v.Reply.IsZero() {
				got = v.Reply.String()
			}
			if got != tt.reply {
				t.Errorf("reply\n got %q\nwant %q", got, tt.reply)
			}
			if tt.reply != "" && v.Action != filters.Reject {
				t.Errorf("action %v, want reject", v.Action)
			}
			if scores := tr.Scores(); !slices.Equal(scores, tt.scores) {
				t.Errorf("scores %v, want %v", scores, tt.scores)
			}
			if tt.log != "" && !strings.Contains(e.lines.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, e.lines.String())
			}
			if tt.s.allow || tt.s.auth != "" {
				if n := e.dns.TotalQueries(); n != 0 {
					t.Errorf("%d queries for a client that is never checked", n)
				}
			}
		})
	}
}

// TestQueriesStartAtConnect checks the lists are asked before RCPT TO, all
// of them, and only once for the whole connection.
func TestQueriesStartAtConnect(t *testing.T) {
	e := newEnv(t)
	f := NewDNSBL(Config{Lists: []List{{Zone: "bl.test", Reject: true}, {Zone: "score.test", Weight: 1}}, Resolver: e.res, Log: e.log})
	c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.1"), Log: e.log}
	f.CheckConnect(context.Background(), c)
	deadline := time.Now().Add(5 * time.Second)
	for e.dns.Queries("1.2.0.192.bl.test", 1) == 0 || e.dns.Queries("1.2.0.192.score.test", 1) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lists were not asked after connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		tr := filters.NewTransaction(c, "Q"+string(rune('0'+i)))
		if v := f.CheckRcpt(context.Background(), tr, "u@example.org"); !v.IsPass() {
			t.Errorf("unlisted client: %+v", v)
		}
	}
	if n := e.dns.TotalQueries(); n != 2 {
		t.Errorf("%d queries, want 2 (one per list)", n)
	}
}

// TestRcptBoundedByContext: a silent list does not hold RCPT TO past the
// check's deadline.
func TestRcptBoundedByContext(t *testing.T) {
	e := newEnv(t)
	e.dns.SilenceAll(true)
	f := NewDNSBL(Config{Lists: []List{{Zone: "bl.test", Reject: true}}, Resolver: e.res, Timeout: time.Minute, Log: e.log})
	c := &filters.ClientConn{ClientIP: netip.MustParseAddr("192.0.2.10"), Log: e.log}
	f.CheckConnect(context.Background(), c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tr := filters.NewTransaction(c, "Q1")
	if v := f.CheckRcpt(ctx, tr, "u@example.org"); !v.IsPass() {
		t.Errorf("verdict %+v, want pass", v)
	}
	if !strings.Contains(e.lines.String(), "dnsbl answer not in time") {
		t.Errorf("the late answer was not logged:\n%s", e.lines.String())
	}
}

func TestRHSBL(t *testing.T) {
	tests := []struct {
		name   string
		list   List
		s      session
		reply  string
		scores []filters.Score
	}{
		{"sender domain listed", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "mail.example", from: "someone@Spammer.Example"},
			"554 5.7.1 Service unavailable; Sender address [spammer.example] blocked using dbl.test; bad domain; queue id 4XyZq1", nil},
		{"helo listed", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "helo.example", from: "a@clean.example"},
			"554 5.7.1 Service unavailable; Helo command [helo.example] blocked using dbl.test; queue id 4XyZq1", nil},
		{"clean", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "mail.example", from: "a@clean.example"}, "", nil},
		{"null sender, literal helo", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "[192.0.2.1]", from: ""}, "", nil},
		{"authenticated", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "helo.example", from: "x@spammer.example", auth: "bob"}, "", nil},
		{"score both, once", List{Zone: "dbl.test", Weight: 1.5}, session{ip: "192.0.2.1", helo: "helo.example", from: "x@spammer.example", rcpts: 2},
			"", []filters.Score{{Test: "RHSBL_HELO_DBL_TEST", Points: 1.5}, {Test: "RHSBL_FROM_DBL_TEST", Points: 1.5}}},
		{"connect and helo phases skipped", List{Zone: "dbl.test", Reject: true}, session{ip: "192.0.2.1", helo: "helo.example", noConnct: true},
			"554 5.7.1 Service unavailable; Helo command [helo.example] blocked using dbl.test; queue id 4XyZq1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			f := NewRHSBL(Config{Lists: []List{tt.list}, Resolver: e.res, Log: e.log})
			v, tr := e.run(t, []filters.Filter{f}, tt.s)
			got := ""
			if !v.Reply.IsZero() {
				got = v.Reply.String()
			}
			if got != tt.reply {
				t.Errorf("reply\n got %q\nwant %q", got, tt.reply)
			}
			if scores := tr.Scores(); !slices.Equal(scores, tt.scores) {
				t.Errorf("scores %v, want %v", scores, tt.scores)
			}
		})
	}
}

func TestDomainOf(t *testing.T) {
	tests := map[string]string{
		"Mail.Example.ORG.": "mail.example.org",
		"localhost":         "",
		"[192.0.2.1]":       "",
		"192.0.2.1":         "",
		"a..b":              "",
		"bad name.example":  "",
		"":                  "",
	}
	for in, want := range tests {
		if got := domainOf(in); got != want {
			t.Errorf("domainOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTestName(t *testing.T) {
	if got := TestName("RCVD_IN_", "zen.spamhaus.org."); got != "RCVD_IN_ZEN_SPAMHAUS_ORG" {
		t.Errorf("TestName = %s", got)
	}
	if got := TestName("RCVD_IN_", "list.dnswl-example.org"); got != "RCVD_IN_LIST_DNSWL_EXAMPLE_ORG" {
		t.Errorf("TestName = %s", got)
	}
}
