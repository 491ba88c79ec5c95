package e2e

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// freeLoopbackPort returns a port nothing listens on now.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// milterMain are the main.cf lines docs/milter.md gives for Postfix, with
// the milter at addr.
func milterMain(addr string) map[string]string {
	return map[string]string{
		"smtpd_milters":             "inet:" + addr,
		"non_smtpd_milters":         "inet:" + addr,
		"milter_protocol":           "6",
		"milter_default_action":     "tempfail",
		"milter_connect_macros":     "j {daemon_name} {client_name} v",
		"milter_mail_macros":        "i {auth_type} {auth_authen} {mail_addr} {tls_version}",
		"milter_end_of_data_macros": "i",
		"mydestination":             "example.org",
		"local_recipient_maps":      "inline:{u@example.org=x,v@example.org=x}",
	}
}

// milterZone is base.zone and lists.zone, with 127.0.0.8 scoring 12 in
// score.test: between the quarantine and reject thresholds.
func milterZone(t *testing.T) string {
	return listsZone(t)
}

// postfixWithMilter starts a recording server, `mailguard serve` with its
// milter (milter settings merged over the listen address) and the DNS
// lists, and a private Postfix delivering to the recording server and
// calling the milter as docs/milter.md configures it.
func postfixWithMilter(t *testing.T, milter map[string]any) (*Gateway, *postfixtest.Postfix, *smtptest.Server) {
	t.Helper()
	if ok, why := postfixtest.Available(); !ok {
		t.Skipf("postfixtest: %s", why)
	}
	rec := smtptest.Start(t, smtptest.Options{})
	milterAddr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	ms := map[string]any{"listen": milterAddr}
	for k, v := range milter {
		ms[k] = v
	}
	g := Start(t, Options{Backend: rec, Zone: milterZone(t), Settings: map[string]any{
		"milter": ms,
		"dnsbl": []any{
			map[string]any{"zone": "bl.test", "action": "reject"},
			map[string]any{"zone": "score.test", "action": "score", "weight": 12},
		},
	}})
	if _, ok := g.WaitLog(`msg=listening service=milter`, 30*time.Second); !ok {
		t.Fatalf("the milter is not listening:\n%s", g.Log())
	}
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: milterMain(milterAddr)})
	return g, pf, rec
}

// TestMilterBehindPostfix: a private Postfix calls `mailguard serve` as its
// milter; what a client of the Postfix hears and what the Postfix delivers
// are the proxy mode's verdicts.
func TestMilterBehindPostfix(t *testing.T) {
	g, pf, rec := postfixWithMilter(t, nil)
	dial := func(source string) *smtptest.Client {
		c := smtptest.Dial(t, pf.Addr, smtptest.DialOptions{Source: source})
		c.Expect(250, "EHLO client.test")
		return c
	}
	send := func(source string, msg []byte) smtptest.Reply {
		c := dial(source)
		defer c.Close()
		return c.Send("a@example.com", []string{"u@example.org"}, msg)
	}
	wantRefusal := func(what string, r smtptest.Reply, code int, enhanced, text string) {
		t.Helper()
		if r.Code != code || r.Enhanced != enhanced || !strings.HasPrefix(r.Text, text) {
			t.Errorf("%s: Postfix answered %s; want %d %s %s...", what, r, code, enhanced, text)
		}
		RequireQueueID(t, r)
	}

	t.Run("listed client refused at RCPT", func(t *testing.T) {
		c := dial("127.0.0.2")
		defer c.Close()
		c.Expect(250, "MAIL FROM:<a@example.com>")
		wantRefusal("RCPT", c.Cmd("RCPT TO:<u@example.org>"), 554, "5.7.1",
			"Service unavailable; Client host [127.0.0.2] blocked using bl.test; Listed in bl.test, see https://bl.test/lookup?127.0.0.2")
	})

	t.Run("malformed refused", func(t *testing.T) {
		msg := []byte("From: a@example.com\r\nFrom: b@example.com\r\nTo: u@example.org\r\nSubject: two\r\n" +
			"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <two@example.com>\r\n\r\nbody\r\n")
		wantRefusal("two From fields", send("127.0.0.5", msg), 550, "5.6.0", "Message rejected: duplicate From header")
	})

	t.Run("GTUBE refused", func(t *testing.T) {
		wantRefusal("GTUBE", send("127.0.0.5", authMsg("", "Hello\r\n"+gtube+"\r\n")), 550, "5.7.1", "Message rejected as spam")
	})

	t.Run("clean delivered with the verdict fields", func(t *testing.T) {
		before := rec.Count()
		msg := authMsg("X-Spam-Flag: YES\r\nAuthentication-Results: mx.test; spf=pass smtp.mailfrom=example.com\r\n", "Hello\r\n")
		if r := send("127.0.0.5", msg); r.Code != 250 {
			t.Fatalf("clean message: %s", r)
		}
		msgs := rec.Wait(before+1, 60*time.Second)
		if len(msgs) != before+1 {
			t.Fatalf("the backend got %d messages, want %d\n%s", len(msgs), before+1, pf.Log())
		}
		data := string(msgs[before].Data)
		head, _, _ := strings.Cut(data, "\r\n\r\n")
		if !regexp.MustCompile(`(?m)^X-Spam-Status: No, score=`).MatchString(head) {
			t.Errorf("delivered without X-Spam-Status:\n%s", head)
		}
		if !regexp.MustCompile(`(?m)^Authentication-Results: mx\.test;`).MatchString(head) {
			t.Errorf("delivered without mailguard's Authentication-Results:\n%s", head)
		}
		if strings.Contains(head, "X-Spam-Flag") || strings.Contains(head, "spf=pass smtp.mailfrom=example.com") {
			t.Errorf("forged fields delivered:\n%s", head)
		}
		if !strings.HasPrefix(data, "Received: ") {
			t.Errorf("the message does not start with Postfix's Received:\n%s", head)
		}
		if _, ok := g.WaitLog(`msg=accepted .*mta_queue_id=[0-9A-F]+`, 10*time.Second); !ok {
			t.Errorf("the acceptance is not logged with Postfix's queue id")
		}
	})

	t.Run("quarantined not delivered, listed", func(t *testing.T) {
		before := rec.Count()
		if r := send("127.0.0.8", authMsg("", "Hello from a scored client\r\n")); r.Code != 250 {
			t.Fatalf("quarantined message: %s; want 250 (kept by mailguard, discarded by Postfix)", r)
		}
		if _, ok := pf.WaitLog(30*time.Second, "milter-discard"); !ok {
			t.Errorf("Postfix did not log the discard:\n%s", pf.Log())
		}
		l := quarantineList(t, g)
		if len(l) != 1 || l[0].ClientIP != "127.0.0.8" || l[0].MailFrom != "a@example.com" {
			t.Fatalf("quarantine list: %+v; want the message from 127.0.0.8", l)
		}
		if out, _, code := Run(t, nil, "quarantine", "-config", g.ConfigPath, "list"); code != 0 || !strings.Contains(out, l[0].ID) {
			t.Errorf("quarantine list: exit %d\n%s", code, out)
		}
		// Postfix logged the discard: the message never entered its queue.
		if n, err := pf.Queued(); err != nil || n != 0 {
			t.Errorf("Postfix's queue holds %d messages (%v); want none", n, err)
		}
		if n := rec.Count(); n != before {
			t.Errorf("the backend got %d more messages; want none", n-before)
		}
	})

	t.Run("mailguard stopped: Postfix tempfails", func(t *testing.T) {
		if code := g.Stop(); code != 0 {
			t.Fatalf("mailguard exited %d", code)
		}
		c := smtptest.Dial(t, pf.Addr, smtptest.DialOptions{Source: "127.0.0.5"})
		defer c.Close()
		replies := []smtptest.Reply{c.Cmd("EHLO client.test")}
		if replies[0].Code == 250 {
			replies = append(replies, c.Cmd("MAIL FROM:<a@example.com>"))
		}
		last := replies[len(replies)-1]
		if last.Code == 250 {
			last = c.Cmd("RCPT TO:<u@example.org>")
		}
		if last.Code/100 != 4 {
			t.Errorf("with mailguard stopped Postfix answered %v; want a 4xx (milter_default_action = tempfail)", append(replies, last))
		}
	})
}

// TestMilterHoldAtPostfix: with quarantine_action: hold a quarantined
// message is accepted into Postfix's hold queue, with the verdict fields,
// and mailguard keeps no copy.
func TestMilterHoldAtPostfix(t *testing.T) {
	g, pf, rec := postfixWithMilter(t, map[string]any{"quarantine_action": "hold"})
	c := smtptest.Dial(t, pf.Addr, smtptest.DialOptions{Source: "127.0.0.8"})
	c.Expect(250, "EHLO client.test")
	if r := c.Send("a@example.com", []string{"u@example.org"}, authMsg("", "Hello from a scored client\r\n")); r.Code != 250 {
		t.Fatalf("held message: %s; want 250", r)
	}
	c.Close()
	if _, ok := pf.WaitLog(30*time.Second, "milter-hold", "milter triggers HOLD action"); !ok {
		t.Fatalf("Postfix did not put the message on hold:\n%s", pf.Log())
	}
	if n, err := pf.Queued(); err != nil || n != 1 {
		t.Errorf("Postfix's queue holds %d messages (%v); want the held one", n, err)
	}
	if l := quarantineList(t, g); len(l) != 0 {
		t.Errorf("mailguard's quarantine holds %+v; want nothing (Postfix holds it)", l)
	}
	if n := rec.Count(); n != 0 {
		t.Errorf("the backend got %d messages; want none", n)
	}
}
