package postfixtest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

func send(t *testing.T, addr, from, to, subject string) smtptest.Reply {
	t.Helper()
	c := smtptest.Dial(t, addr, smtptest.DialOptions{})
	defer c.Close()
	if c.Banner.Code != 220 {
		t.Fatalf("banner %s", c.Banner)
	}
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<%s>", from)
	if r := c.Cmd("RCPT TO:<%s>", to); r.Code != 250 {
		return r
	}
	return c.Data(fmt.Appendf(nil, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nbody\r\n", from, to, subject))
}

// Two instances side by side each deliver what they accepted to their own
// recording server, and log it in their own file.
func TestTwoInstancesDeliver(t *testing.T) {
	var pfs [2]*postfixtest.Postfix
	var backs [2]*smtptest.Server
	for i := range pfs {
		backs[i] = smtptest.Start(t, smtptest.Options{})
		pfs[i] = postfixtest.Start(t, postfixtest.Options{Relay: backs[i].Addr})
	}
	for i, pf := range pfs {
		if r := send(t, pf.Addr, "alice@sender.test", "bob@example.org", fmt.Sprintf("instance %d", i)); r.Code != 250 {
			t.Fatalf("instance %d: end of data: %s", i, r)
		}
	}
	for i, b := range backs {
		msgs := b.Wait(1, 30*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("instance %d: backend got %d messages, want 1\n%s", i, len(msgs), pfs[i].Log())
		}
		if want := fmt.Sprintf("Subject: instance %d", i); !strings.Contains(string(msgs[0].Data), want) {
			t.Errorf("instance %d: delivered message lacks %q:\n%s", i, want, msgs[0].Data)
		}
		if msgs[0].From != "alice@sender.test" || len(msgs[0].Rcpts) != 1 || msgs[0].Rcpts[0] != "bob@example.org" {
			t.Errorf("instance %d: envelope %q -> %q", i, msgs[0].From, msgs[0].Rcpts)
		}
		if _, ok := pfs[i].WaitLog(30*time.Second, "to=<bob@example.org>", "status=sent"); !ok {
			t.Errorf("instance %d: no status=sent line in its log:\n%s", i, pfs[i].Log())
		}
	}
}

// Settings given in Options reach the running smtpd: a recipient missing
// from local_recipient_maps (main.cf) and a sender in an access table (the
// listener's -o) are refused with Postfix's replies.
func TestSettings(t *testing.T) {
	back := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: back.Addr, Main: map[string]string{
		"mydestination":        "example.org",
		"local_recipient_maps": "inline:{bob@example.org=x}",
	}, Smtpd: map[string]string{
		"smtpd_sender_restrictions": "check_sender_access,inline:{bad@sender.test=REJECT}",
	}})
	if r := send(t, pf.Addr, "bad@sender.test", "bob@example.org", "x"); r.Code != 554 || !strings.Contains(r.Text, "Sender address rejected") {
		t.Errorf("RCPT after a refused sender: %s, want 554 ... Sender address rejected", r)
	}
	if r := send(t, pf.Addr, "alice@sender.test", "nobody@example.org", "x"); r.Code != 550 || !strings.Contains(r.Text, "User unknown in local recipient table") {
		t.Errorf("RCPT to unknown local user: %s, want 550 ... User unknown in local recipient table", r)
	}
	if r := send(t, pf.Addr, "alice@sender.test", "bob@example.org", "x"); r.Code != 250 {
		t.Errorf("RCPT to known local user: %s", r)
	}
	if m := back.Wait(1, 30*time.Second); len(m) != 1 {
		t.Errorf("backend got %d messages, want 1", len(m))
	}
}

// A message queued while the next hop is down is kept, and delivered by
// Flush once it is back.
func TestQueueAndFlush(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{})
	if r := send(t, pf.Addr, "alice@sender.test", "bob@example.org", "held"); r.Code != 250 {
		t.Fatalf("end of data: %s", r)
	}
	if _, ok := pf.WaitLog(30*time.Second, "status=deferred"); !ok {
		t.Fatalf("no deferral logged:\n%s", pf.Log())
	}
	if n, err := pf.Queued(); err != nil || n != 1 {
		t.Fatalf("queued: %d, %v; want 1", n, err)
	}
	back := smtptest.Start(t, smtptest.Options{})
	if err := pf.Set(map[string]string{"relayhost": "[127.0.0.1]:" + back.Addr[strings.LastIndex(back.Addr, ":")+1:],
		"default_transport": "smtp"}); err != nil {
		t.Fatal(err)
	}
	if err := pf.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := pf.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := back.Wait(1, 60*time.Second); len(m) != 1 {
		t.Fatalf("backend got %d messages after flush, want 1\n%s", len(m), pf.Log())
	}
}
