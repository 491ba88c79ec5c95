package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// listsZone is base.zone with the DNS lists of testdata/lists.zone.
func listsZone(t *testing.T) string {
	return zoneFiles(t, "testdata/base.zone", "testdata/lists.zone")
}

// zoneFiles is the zone text of the files, one after the other.
func zoneFiles(t *testing.T, files ...string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

// rcptReply connects from source, gives MAIL FROM and returns the reply to
// RCPT TO.
func rcptReply(t *testing.T, g *Gateway, source, from string) (smtptest.Reply, *smtptest.Client) {
	t.Helper()
	c := g.DialFrom(source)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<%s>", from)
	return c.Cmd("RCPT TO:<u@example.org>"), c
}

// TestDNSBLRefusesListedClients: clients listed by a reject zone get 554
// 5.7.1 at RCPT TO in Postfix's words, with the list's reason and the queue
// id; unlisted clients, and answers that are the lists' "query refused"
// codes, pass; a score zone adds its weight to X-Spam-Status.
func TestDNSBLRefusesListedClients(t *testing.T) {
	g := Start(t, Options{Zone: listsZone(t), Settings: map[string]any{
		"dnsbl": []any{
			map[string]any{"zone": "bl.test", "action": "reject"},
			map[string]any{"zone": "score.test", "action": "score", "weight": 2.5},
		},
		"rhsbl": []any{map[string]any{"zone": "dbl.test", "action": "reject"}},
	}})

	refused := []struct{ source, from, text string }{
		{"127.0.0.2", "a@example.com", "Service unavailable; Client host [127.0.0.2] blocked using bl.test; Listed in bl.test, see https://bl.test/lookup?127.0.0.2"},
		{"127.0.0.4", "a@example.com", "Service unavailable; Client host [127.0.0.4] blocked using bl.test"},
		{"127.0.0.5", "a@spam.example.net", "Service unavailable; Sender address [spam.example.net] blocked using dbl.test"},
	}
	for _, tt := range refused {
		r, c := rcptReply(t, g, tt.source, tt.from)
		if r.Code != 554 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, tt.text+"; queue id ") {
			t.Errorf("client %s <%s>: RCPT TO got %s; want 554 5.7.1 %s; queue id ...", tt.source, tt.from, r, tt.text)
		}
		RequireQueueID(t, r)
		c.Close()
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages from listed clients", n)
	}

	// Unlisted, and refused-query answers, pass.
	for _, source := range []string{"127.0.0.5", "127.0.0.6"} {
		c := g.DialFrom(source)
		if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg)); r.Code != 250 {
			t.Errorf("client %s: %s; want the message accepted", source, r)
		}
		c.Close()
	}
	if _, ok := g.WaitLog(`level=WARN.*zone=bl.test.*answer=127.255.255.254`, 10*time.Second); !ok {
		t.Errorf("the 127.255.255.254 answer was not logged as a warning")
	}

	// The score zone.
	c := g.DialFrom("127.0.0.8")
	status, _ := relayedSpamHeaders(t, g, c, []byte(simpleMsg))
	c.Close()
	if !strings.Contains(status, "RCVD_IN_SCORE_TEST") {
		t.Errorf("X-Spam-Status %q lacks RCVD_IN_SCORE_TEST", status)
	}
	// One line for the decision, naming the filter, the test, the reply
	// and the list's answer.
	if got := g.LogLines(`msg=reject .*\[127.0.0.2\].* phase=RCPT filter=dnsbl test=RCVD_IN_BL_TEST reply="554 5\.7\.1 .*reason="client 127.0.0.2 listed in bl.test \(127.0.0.2\)"`); len(got) != 1 {
		t.Errorf("%d decision lines for the refusal of 127.0.0.2, want 1:\n%s", len(got), g.Log())
	}
	if got := g.LogLines(`level=INFO.*\[127.0.0.2\].*(listed|reject)`); len(got) != 1 {
		t.Errorf("the refusal of 127.0.0.2 is told in %d lines, want 1: %q", len(got), got)
	}
}

// TestDNSBLSilentServer: when the DNS server stops answering, listed or
// not, a client is never held longer than dns.timeout plus a second at any
// step, and the lists count as not listed.
func TestDNSBLSilentServer(t *testing.T) {
	const timeout = 2 * time.Second
	g := Start(t, Options{Zone: listsZone(t), Settings: map[string]any{
		"dns":   map[string]any{"timeout": timeout.String()},
		"dnsbl": []any{map[string]any{"zone": "bl.test", "action": "reject"}, map[string]any{"zone": "score.test", "action": "score", "weight": 1}},
	}})
	bound := timeout + time.Second

	// The list alone is silent for this client.
	g.DNS.Silence("9.0.0.127.bl.test", true)
	c := g.DialFrom("127.0.0.9")
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<>")
	start := time.Now()
	r := c.Cmd("RCPT TO:<u@example.org>")
	if d := time.Since(start); d > bound {
		t.Errorf("RCPT TO took %v with a silent list; the bound is dns.timeout + 1s = %v", d, bound)
	}
	if r.Code != 250 {
		t.Errorf("RCPT TO with a silent list: %s; want 250 (not listed)", r)
	}
	c.Close()

	// The whole server is silent: each step is bounded, even the ones
	// that wait for DNS (the reverse name before the banner, the lists at
	// RCPT TO).
	g.DNS.SilenceAll(true)
	start = time.Now()
	c = g.Dial(smtptest.DialOptions{Source: "127.0.0.2", Timeout: 30 * time.Second})
	if d := time.Since(start); d > bound {
		t.Errorf("the banner took %v with a silent DNS server; the bound is %v", d, bound)
	}
	for _, step := range []struct {
		cmd  string
		code int
	}{{"EHLO client.test", 250}, {"MAIL FROM:<>", 250}, {"RCPT TO:<u@example.org>", 250}} {
		start := time.Now()
		r := c.Cmd("%s", step.cmd)
		if d := time.Since(start); d > bound {
			t.Errorf("%s took %v with a silent DNS server; the bound is %v", step.cmd, d, bound)
		}
		if r.Code != step.code {
			t.Errorf("%s: %s; want %d (a list that does not answer counts as not listed)", step.cmd, r, step.code)
		}
	}
	c.Close()
	if _, ok := g.WaitLog(`dns list lookup failed; counted as not listed`, 10*time.Second); !ok {
		t.Errorf("the failed list lookup was not logged")
	}
}
