package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

// verifyZone adds the sender domains of the verification tests to the base
// zone.
const verifyZone = `
nullmx.test.         IN MX  0 .
a-only.test.         IN A   192.0.2.40
nodata.test.         IN TXT "no MX, no address"
servfail.test.       IN MX  10 mx.example.com.
noaddr.test.         IN MX  10 nothing.noaddr.test.
`

// withoutQueueID strips the "; queue id X" every refusal ends with, after
// checking it is there.
func withoutQueueID(t *testing.T, r smtptest.Reply) string {
	t.Helper()
	RequireQueueID(t, r)
	return regexp.MustCompile(`; queue id [0-9A-F]+$`).ReplaceAllString(strings.Join([]string{strconv.Itoa(r.Code), r.Enhanced, r.Text}, " "), "")
}

func TestVerifyEnvelope(t *testing.T) {
	base, err := os.ReadFile("testdata/base.zone")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	recipients := filepath.Join(dir, "recipients.txt")
	if err := os.WriteFile(recipients, []byte("# local users\nuser@example.org\nAlice@Example.org\n@catchall.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := Start(t, Options{Zone: string(base) + verifyZone, Settings: map[string]any{
		"domains":       []string{"example.org", "catchall.example.org"},
		"recipients":    map[string]any{"file": recipients},
		"sender_verify": true,
		"block":         map[string]any{"senders": []string{"@spammer.example.com", "bad@example.net"}, "networks": []string{"127.0.0.9"}},
		"dns":           map[string]any{"timeout": "1s"},
	}})
	g.DNS.ServFail("servfail.test", true)

	type step struct {
		cmd  string
		want string // exact reply without the queue id; a bare code for a 2xx
	}
	relayDenied := func(addr string) string { return "554 5.7.1 <" + addr + ">: Relay access denied" }
	tests := []struct {
		name, source string
		steps        []step
	}{
		{"foreign domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<x@example.net>", relayDenied("x@example.net")},
		}},
		{"subdomain of a local domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<user@sub.example.org>", relayDenied("user@sub.example.org")},
		}},
		{"percent hack to a local domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<x%example.net@example.org>", relayDenied("x%example.net@example.org")},
		}},
		{"quoted @ to a local domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			// go-smtp hands the path over unquoted.
			{`RCPT TO:<"x@example.net"@example.org>`, relayDenied("x@example.net@example.org")},
		}},
		{"bang path to a local domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<example.net!x@example.org>", relayDenied("example.net!x@example.org")},
		}},
		{"source route through a local domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<@example.org:x@example.net>", relayDenied("@example.org:x@example.net")},
		}},
		{"domain literal", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<x@[192.0.2.1]>", relayDenied("x@[192.0.2.1]")},
		}},
		{"tricks are refused to relay clients too", "127.0.0.1", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<x@example.net>", "250"},
			{"RCPT TO:<x%example.net@example.org>", relayDenied("x%example.net@example.org")},
			{"RCPT TO:<example.net!x@example.org>", relayDenied("example.net!x@example.org")},
		}},
		{"recipients file", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<user@example.org>", "250"},
			{"RCPT TO:<ALICE@example.ORG>", "250"},
			{"RCPT TO:<anyone@catchall.example.org>", "250"},
			{"RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"},
		}},
		{"unknown recipient from a relay client", "127.0.0.1", []step{
			{"MAIL FROM:<a@example.com>", "250"},
			{"RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"},
		}},
		{"sender domain does not exist", "127.0.0.2", []step{
			{"MAIL FROM:<a@nonexistent.test>", "550 5.1.8 <a@nonexistent.test>: Sender address rejected: Domain not found"},
		}},
		{"sender domain has no MX and no address", "127.0.0.2", []step{
			{"MAIL FROM:<a@nodata.test>", "550 5.1.8 <a@nodata.test>: Sender address rejected: Domain not found"},
		}},
		{"sender domain's MX has no address", "127.0.0.2", []step{
			{"MAIL FROM:<a@noaddr.test>", "550 5.1.8 <a@noaddr.test>: Sender address rejected: Domain not found"},
		}},
		{"sender domain with a null MX", "127.0.0.2", []step{
			{"MAIL FROM:<a@nullmx.test>", "550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain does not accept mail (null MX)"},
		}},
		{"sender domain lookup fails", "127.0.0.2", []step{
			{"MAIL FROM:<a@servfail.test>", "450 4.1.8 <a@servfail.test>: Sender address rejected: Domain not found"},
		}},
		{"sender domain with an address only", "127.0.0.2", []step{
			{"MAIL FROM:<a@a-only.test>", "250"},
			{"RCPT TO:<user@example.org>", "250"},
		}},
		{"null sender", "127.0.0.2", []step{
			{"MAIL FROM:<>", "250"},
			{"RCPT TO:<user@example.org>", "250"},
		}},
		{"relay clients' senders are not looked up", "127.0.0.1", []step{
			{"MAIL FROM:<a@nonexistent.test>", "250"},
		}},
		{"blocked sender domain", "127.0.0.2", []step{
			{"MAIL FROM:<x@Spammer.Example.com>", "554 5.7.1 <x@Spammer.Example.com>: Sender address rejected: Access denied"},
		}},
		{"blocked sender address", "127.0.0.2", []step{
			{"MAIL FROM:<bad@example.net>", "554 5.7.1 <bad@example.net>: Sender address rejected: Access denied"},
			{"MAIL FROM:<good@example.net>", "250"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := g.DialFrom(tt.source)
			defer c.Close()
			c.Expect(250, "EHLO client.test")
			for _, s := range tt.steps {
				r := c.Cmd("%s", s.cmd)
				if len(s.want) == 3 {
					if strconv.Itoa(r.Code) != s.want {
						t.Fatalf("%s: got %s, want %s", s.cmd, r, s.want)
					}
					continue
				}
				if got := withoutQueueID(t, r); got != s.want {
					t.Fatalf("%s:\n got %q\nwant %q", s.cmd, got, s.want)
				}
			}
		})
	}

	// As Postfix does by default (smtpd_delay_reject), a client refused at
	// connect hears it at RCPT TO, so it learns which recipient failed.
	t.Run("blocked network", func(t *testing.T) {
		c := g.DialFrom("127.0.0.9")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		r := c.Cmd("RCPT TO:<user@example.org>")
		if got := withoutQueueID(t, r); got != "554 5.7.1 Client host rejected: Access denied" {
			t.Fatalf("blocked client: %q", got)
		}
	})

	t.Run("recipients file edited while running", func(t *testing.T) {
		if err := os.WriteFile(recipients, []byte("user@example.org\nnewcomer@example.org\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			c := g.DialFrom("127.0.0.2")
			c.Expect(250, "EHLO client.test")
			c.Expect(250, "MAIL FROM:<a@example.com>")
			r := c.Cmd("RCPT TO:<newcomer@example.org>")
			c.Close()
			if r.Code == 250 {
				break
			}
			if r.Code != 550 || time.Now().After(deadline) {
				t.Fatalf("newcomer after the edit: %s", r)
			}
			time.Sleep(200 * time.Millisecond)
		}
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		if r := c.Cmd("RCPT TO:<alice@example.org>"); r.Code != 550 {
			t.Fatalf("alice, removed from the file: %s", r)
		}
	})
}

// With recipients.callout the gateway asks the backend before accepting a
// recipient, and remembers the answer.
func TestVerifyRecipientCallout(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{
		"recipients": map[string]any{"callout": true},
	}})
	g.Backend.RefuseRcpt("gone@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"})

	rcpt := func(addr string) smtptest.Reply {
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		return c.Cmd("RCPT TO:<%s>", addr)
	}
	want := "550 5.1.1 <gone@example.org>: Recipient address rejected: undeliverable address; backend said: 550 5.1.1 No such user"
	if got := withoutQueueID(t, rcpt("gone@example.org")); got != want {
		t.Fatalf("first refusal:\n got %q\nwant %q", got, want)
	}
	before := g.Backend.Connections()
	if got := withoutQueueID(t, rcpt("gone@example.org")); got != want {
		t.Fatalf("cached refusal:\n got %q\nwant %q", got, want)
	}
	// The second refusal came from the cache: the only backend connection
	// is the proxy's own session for the transaction, if it opens one.
	if n := g.Backend.Connections() - before; n > 1 {
		t.Fatalf("%d backend connections for a cached answer", n)
	}
	if r := rcpt("user@example.org"); r.Code != 250 {
		t.Fatalf("a user the backend knows: %s", r)
	}

}

// SPEC: a source route gets "Relay access denied" even when the final
// domain is local. go-smtp drops the route while parsing RCPT TO (RFC 5321
// section 4.1.1.3 lets servers ignore it), so the chain can only refuse it
// because the proxy hands over the path as the client sent it (in clear
// text; after STARTTLS go-smtp's parser drops the route unseen).
func TestVerifySourceRouteToLocalDomain(t *testing.T) {
	g := Start(t, Options{})
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	r := c.Cmd("RCPT TO:<@example.net:user@example.org>")
	if got, want := withoutQueueID(t, r), "554 5.7.1 <@example.net:user@example.org>: Relay access denied"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// sender_callout asks the sender domain's MX (here the test backend, on
// the port verify.callout.sender_port names) whether the sender exists.
func TestVerifySenderCallout(t *testing.T) {
	mx := smtptest.Start(t, smtptest.Options{Hostname: "mx.callout.test"})
	mx.RefuseRcpt("gone@callout.test", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"})
	mx.RefuseRcpt("later@callout.test", filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "Try later"})
	_, port, _ := net.SplitHostPort(mx.Addr)
	p, _ := strconv.Atoi(port)
	base, err := os.ReadFile("testdata/base.zone")
	if err != nil {
		t.Fatal(err)
	}
	g := Start(t, Options{
		Zone: string(base) + "callout.test. IN MX 10 mx.callout.test.\nmx.callout.test. IN A 127.0.0.1\n",
		Settings: map[string]any{
			"sender_callout": true,
			"verify":         map[string]any{"callout": map[string]any{"sender_port": p}},
		}})
	mail := func(from string) smtptest.Reply {
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		return c.Cmd("MAIL FROM:<%s>", from)
	}
	if r := mail("alice@callout.test"); r.Code != 250 {
		t.Fatalf("a sender the MX knows: %s", r)
	}
	want := "550 5.1.7 <gone@callout.test>: Sender address rejected: undeliverable address; " + mx.Addr + " said: 550 5.1.1 No such user"
	if got := withoutQueueID(t, mail("gone@callout.test")); got != want {
		t.Fatalf("unknown sender:\n got %q\nwant %q", got, want)
	}
	if got, want := withoutQueueID(t, mail("later@callout.test")), "450 4.1.7 <later@callout.test>: Sender address rejected: unverified address"; got != want {
		t.Fatalf("MX answering 4xx:\n got %q\nwant %q", got, want)
	}
	probes := mx.Connections()
	if got := withoutQueueID(t, mail("gone@callout.test")); got != want {
		t.Fatalf("unknown sender again:\n got %q\nwant %q", got, want)
	}
	if r := mail(""); r.Code != 250 {
		t.Fatalf("null sender: %s", r)
	}
	if n := mx.Connections() - probes; n != 0 {
		t.Fatalf("%d probes for a remembered answer and the null sender, want 0", n)
	}
}
