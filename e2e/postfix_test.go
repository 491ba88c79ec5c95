package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// readmeListener is the loopback smtpd the README's "Postfix" section puts
// behind mailguard, as master.cf -o settings.
func readmeListener() map[string]string {
	return map[string]string{
		"smtpd_client_restrictions":       "",
		"smtpd_helo_restrictions":         "",
		"smtpd_sender_restrictions":       "",
		"smtpd_recipient_restrictions":    "permit_mynetworks,reject",
		"smtpd_milters":                   "",
		"smtpd_tls_security_level":        "none",
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
	}
}

// postfixBehind starts a recording server, a Postfix delivering to it and
// mailguard in front of the Postfix. Postfix is the final destination of
// example.org, whose users are u@, v@ and bob@, and takes messages up to 20000
// octets; listener settings in extra are merged over the README's.
func postfixBehind(t *testing.T, extra map[string]string, settings map[string]any) (*Gateway, *postfixtest.Postfix, *smtptest.Server) {
	t.Helper()
	rec := smtptest.Start(t, smtptest.Options{})
	listener := readmeListener()
	for k, v := range extra {
		listener[k] = v
	}
	pf := postfixtest.Start(t, postfixtest.Options{
		Relay: rec.Addr,
		Main: map[string]string{
			"mydestination":        "example.org",
			"local_recipient_maps": "inline:{u@example.org=x,v@example.org=x,bob@example.org=x}",
			"message_size_limit":   "20000",
		},
		Smtpd: listener,
	})
	s := map[string]any{"backend": pf.Addr}
	for k, v := range settings {
		s[k] = v
	}
	g := Start(t, Options{Backend: rec, Settings: s})
	return g, pf, rec
}

func testMessage(subject string, bodyLen int) []byte {
	return fmt.Appendf(nil, "From: a@example.com\r\nTo: u@example.org\r\nSubject: %s\r\n"+
		"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\n%s\r\n",
		subject, strings.ReplaceAll(subject, " ", "."), strings.Repeat("word word word word word word word word word word word word word w\r\n", bodyLen/70+1))
}

// queueIDOf takes mailguard's queue id out of its 250 reply.
func queueIDOf(t *testing.T, r smtptest.Reply) string {
	t.Helper()
	m := regexp.MustCompile(`queued as ([0-9A-F]{10,12})`).FindStringSubmatch(r.Text)
	if r.Code != 250 || m == nil {
		t.Fatalf("message not accepted: %s", r)
	}
	return m[1]
}

// Postfix behind mailguard, configured as the README says: it learns the
// real client by XFORWARD, and its refusals reach the client as it wrote
// them.
func TestPostfixBehind(t *testing.T) {
	g, pf, rec := postfixBehind(t, nil, nil)

	t.Run("relayed names the client", func(t *testing.T) {
		// 127.0.0.2 is outside relay_networks and has a forward-confirmed
		// reverse name.
		c := g.DialFrom("127.0.0.2")
		qid := queueIDOf(t, c.Send("a@example.com", []string{"u@example.org"}, testMessage("through postfix", 100)))
		c.Close()
		msgs := rec.Wait(1, 60*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("recording server got %d messages, want 1\n%s", len(msgs), pf.Log())
		}
		line, ok := pf.WaitLog(30*time.Second, "orig_queue_id="+qid)
		if !ok {
			t.Fatalf("no Postfix log line with orig_queue_id=%s:\n%s", qid, pf.Log())
		}
		if !strings.Contains(line, "orig_client=client2.example.com[127.0.0.2]") {
			t.Errorf("Postfix's line does not name the client: %s", line)
		}
		// Postfix's own Received: names the hop it saw; under it, the one
		// mailguard added names the client, its HELO and the queue id.
		data := string(msgs[0].Data)
		pfRcv := regexp.MustCompile(`(?s)^Received: from mx\.test \(localhost \[127\.0\.0\.1\]\)\r?\n\tby postfix\.test \(Postfix\)`)
		mgRcv := regexp.MustCompile(`\nReceived: from client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)\r?\n\tby mx\.test \(mailguard\) with ESMTP id ` + qid)
		if !pfRcv.MatchString(data) || !mgRcv.MatchString(data) {
			t.Errorf("Received: fields as delivered:\n%s", data)
		}
		if _, ok := pf.WaitLog(30*time.Second, "to=<u@example.org>", "status=sent"); !ok {
			t.Errorf("Postfix did not log the delivery:\n%s", pf.Log())
		}
	})

	t.Run("unknown local recipient refused at RCPT", func(t *testing.T) {
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
		r := c.Cmd("RCPT TO:<nobody@example.org>")
		want := "<nobody@example.org>: Recipient address rejected: User unknown in local recipient table"
		if r.Code != 550 || r.Enhanced != "5.1.1" || !strings.HasPrefix(r.Text, want) {
			t.Errorf("RCPT: %s, want 550 5.1.1 %s", r, want)
		}
		RequireQueueID(t, r)
		c.Expect(250, "RCPT TO:<bob@example.org>")
	})

	t.Run("size limit as Postfix wrote it", func(t *testing.T) {
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		// Declared in MAIL FROM: Postfix refuses it there. (Postfix keeps
		// that SIZE= until RSET; mailguard says RSET to it, so the next
		// MAIL FROM is judged afresh.)
		r := c.Cmd("MAIL FROM:<a@example.com> SIZE=50000")
		if r.Code != 552 || r.Enhanced != "5.3.4" || !strings.HasPrefix(r.Text, "Message size exceeds fixed limit") {
			t.Errorf("MAIL with SIZE=50000: %s, want Postfix's 552 5.3.4 Message size exceeds fixed limit", r)
		}
		// Undeclared: Postfix refuses it after the final dot.
		c.Expect(250, "MAIL FROM:<a@example.com>")
		c.Expect(250, "RCPT TO:<u@example.org>")
		r = c.Data(testMessage("too big", 30000))
		if r.Code != 552 || r.Enhanced != "5.3.4" || !strings.HasPrefix(r.Text, "Error: message file too big") {
			t.Errorf("end of data of 30000 octets: %s, want Postfix's 552 5.3.4 Error: message file too big", r)
		}
		RequireQueueID(t, r)
	})

	t.Run("restart while Postfix holds a message", func(t *testing.T) {
		before := rec.Count()
		rec.RefuseData(filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "try later"})
		c := g.DialFrom("127.0.0.2")
		qid := queueIDOf(t, c.Send("a@example.com", []string{"u@example.org"}, testMessage("held by postfix", 100)))
		c.Close()
		if _, ok := pf.WaitLog(60*time.Second, "status=deferred"); !ok {
			t.Fatalf("Postfix did not defer the message:\n%s", pf.Log())
		}
		if n, err := pf.Queued(); err != nil || n != 1 {
			t.Fatalf("Postfix's queue holds %d messages (%v), want 1", n, err)
		}
		if code := g.Stop(); code != 0 {
			t.Fatalf("mailguard stopped with status %d", code)
		}
		g2 := Start(t, Options{Backend: rec, Settings: map[string]any{"backend": pf.Addr}})
		rec.RefuseData(filters.Reply{})
		if err := pf.Flush(); err != nil {
			t.Fatal(err)
		}
		c2 := g2.DialFrom("127.0.0.2")
		queueIDOf(t, c2.Send("a@example.com", []string{"u@example.org"}, testMessage("after restart", 100)))
		c2.Close()
		msgs := rec.Wait(before+2, 60*time.Second)
		if len(msgs) < before+2 {
			t.Fatalf("recording server got %d messages after the restart, want %d\n%s", len(msgs), before+2, pf.Log())
		}
		var held bool
		for _, m := range msgs[before:] {
			held = held || strings.Contains(string(m.Data), "with ESMTP id "+qid)
		}
		if !held {
			t.Errorf("the message queued across the restart (queue id %s) was not delivered", qid)
		}
	})
}

// A sender Postfix's own access table refuses is refused to the client
// with Postfix's words (at RCPT, as Postfix's smtpd_delay_reject does).
func TestPostfixBehindSenderRefused(t *testing.T) {
	g, _, rec := postfixBehind(t, map[string]string{
		"smtpd_sender_restrictions": "check_sender_access,inline:{spammer@example.net=REJECT}",
	}, nil)
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<spammer@example.net>")
	r := c.Cmd("RCPT TO:<u@example.org>")
	want := "<spammer@example.net>: Sender address rejected: Access denied"
	if r.Code != 554 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, want) {
		t.Errorf("RCPT after a sender Postfix refuses: %s, want 554 5.7.1 %s", r, want)
	}
	RequireQueueID(t, r)
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data(testMessage("another sender", 100)); r.Code != 250 {
		t.Errorf("end of data from an accepted sender: %s", r)
	}
	if m := rec.Wait(1, 60*time.Second); len(m) != 1 {
		t.Errorf("recording server got %d messages, want 1", len(m))
	}
}

// With backend_forward: xclient, Postfix takes the connection for the
// client's: its log's client= and its own Received: name the client and
// its HELO. Postfix then judges the client itself, so its listener refuses
// relaying with reject_unauth_destination rather than permitting
// mynetworks (docs/backend-forward.md).
func TestPostfixBehindXClient(t *testing.T) {
	g, pf, rec := postfixBehind(t, map[string]string{
		"smtpd_authorized_xclient_hosts": "127.0.0.0/8",
		"smtpd_recipient_restrictions":   "reject_unauth_destination",
	}, map[string]any{"backend_forward": "xclient"})
	c := g.DialFrom("127.0.0.2")
	qid := queueIDOf(t, c.Send("a@example.com", []string{"u@example.org"}, testMessage("through postfix by xclient", 100)))
	// The same client with another HELO name: Postfix hears that one.
	c.Expect(250, "EHLO second.example.com")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	queueIDOf(t, c.Data(testMessage("second by xclient", 100)))
	c.Close()
	msgs := rec.Wait(2, 60*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("recording server got %d messages, want 2\n%s", len(msgs), pf.Log())
	}
	if want := "Received: from second.example.com (client2.example.com [127.0.0.2])"; !strings.HasPrefix(string(msgs[1].Data), want) {
		t.Errorf("second message's Received: is not %q:\n%s", want, msgs[1].Data)
	}
	data := string(msgs[0].Data)
	pfRcv := regexp.MustCompile(`^Received: from client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)\r?\n\tby postfix\.test \(Postfix\)`)
	if !pfRcv.MatchString(data) || !strings.Contains(data, "(mailguard) with ESMTP id "+qid) {
		t.Errorf("Received: fields as delivered:\n%s", data)
	}
	if _, ok := pf.WaitLog(30*time.Second, "client=client2.example.com[127.0.0.2]"); !ok {
		t.Errorf("Postfix's log does not name the client:\n%s", pf.Log())
	}
}

// A backend that does not offer XFORWARD (the recording server) gets the
// transaction as before, and nothing is logged about it.
func TestBackendWithoutXForward(t *testing.T) {
	g := Start(t, Options{})
	c := g.DialFrom("127.0.0.2")
	m, _ := sent(t, g, c, "a@example.com", []string{"u@example.org"}, testMessage("plain backend", 100))
	c.Close()
	if m.From != "a@example.com" || len(m.Rcpts) != 1 || m.Helo != "mx.test" {
		t.Errorf("backend got %+v", m)
	}
	if l := g.LogLines(`backend refused the client's identity`); len(l) != 0 {
		t.Errorf("logged: %q", l)
	}
}

// A release from the quarantine has no client behind it: Postfix sees
// mailguard's own connection, without XFORWARD.
func TestPostfixBehindReleaseNoXForward(t *testing.T) {
	g, pf, rec := postfixBehind(t, nil, quarantineSettings)
	if r := sendGTUBE(t, g, "held then released"); r.Code != 250 {
		t.Fatalf("GTUBE over the quarantine threshold: %s, want 250", r)
	}
	id := quarantineList(t, g)[0].ID
	out, errOut, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "release", id)
	if code != 0 || !strings.Contains(out, "released "+id) {
		t.Fatalf("release: exit %d: %s %s", code, out, errOut)
	}
	if m := rec.Wait(1, 60*time.Second); len(m) != 1 {
		t.Fatalf("recording server got %d messages after the release, want 1\n%s", len(m), pf.Log())
	}
	// The held transaction's backend side was opened with XFORWARD and
	// reset; the release is a session of its own, without it.
	line, ok := pf.WaitLog(30*time.Second, "disconnect from localhost[127.0.0.1]", " data=1 ")
	if !ok {
		t.Fatalf("no session with DATA in Postfix's log:\n%s", pf.Log())
	}
	if strings.Contains(line, "xforward") {
		t.Errorf("the release said XFORWARD: %s", line)
	}
}
