package e2e

import (
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

// documentedListener is the loopback smtpd docs/backend-forward.md (and
// docs/deployment.md) put behind mailguard for a backend_forward mode, as
// master.cf -o settings.
func documentedListener(mode string) map[string]string {
	l := map[string]string{
		"smtpd_client_restrictions":       "",
		"smtpd_helo_restrictions":         "",
		"smtpd_sender_restrictions":       "",
		"smtpd_recipient_restrictions":    "permit_mynetworks,reject",
		"smtpd_milters":                   "",
		"smtpd_tls_security_level":        "none",
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
	}
	if mode == "xclient" {
		// Postfix judges the client itself: mynetworks now meets the
		// client's address.
		l["smtpd_recipient_restrictions"] = "permit_mynetworks,reject_unauth_destination"
		l["smtpd_authorized_xclient_hosts"] = "127.0.0.0/8"
	}
	return l
}

// xclientRelayNetwork is relay_networks in the xclient tests: not
// mailguard's own address, so Postfix letting it relay shows that Postfix
// judged the client, not mailguard.
const xclientRelayNetwork = "127.0.0.4/32"

// postfixBehind starts a recording server, a Postfix delivering to it and
// mailguard in front of the Postfix, configured as the docs say for
// settings' backend_forward (xforward when absent). Postfix is the final
// destination of example.org, whose users are u@, v@ and bob@, and takes
// messages up to 20000 octets; listener settings in extra are merged over
// the documented ones. With xclient, mailguard's relay_networks is
// xclientRelayNetwork and Postfix's mynetworks holds it and 127.0.0.1.
func postfixBehind(t *testing.T, extra map[string]string, settings map[string]any) (*Gateway, *postfixtest.Postfix, *smtptest.Server) {
	t.Helper()
	rec := smtptest.Start(t, smtptest.Options{})
	mode, _ := settings["backend_forward"].(string)
	listener := documentedListener(mode)
	maps.Copy(listener, extra)
	main := map[string]string{
		"mydestination":        "example.org",
		"local_recipient_maps": "inline:{u@example.org=x,v@example.org=x,bob@example.org=x}",
		"message_size_limit":   "20000",
		"mynetworks":           "127.0.0.1/32",
	}
	s := map[string]any{}
	if mode == "xclient" {
		main["mynetworks"] = "127.0.0.1/32 " + xclientRelayNetwork
		s["relay_networks"] = []string{xclientRelayNetwork}
	}
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: main, Smtpd: listener})
	s["backend"] = pf.Addr
	maps.Copy(s, settings)
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

// Postfix behind mailguard, configured as the docs say for each
// backend_forward mode: it learns the real client, and its refusals reach
// the client as it wrote them.
func TestPostfixBehind(t *testing.T) {
	for _, mode := range []string{"xforward", "xclient"} {
		t.Run(mode, func(t *testing.T) {
			settings := map[string]any{}
			if mode != "xforward" {
				settings["backend_forward"] = mode
			}
			g, pf, rec := postfixBehind(t, nil, settings)
			if mode == "xforward" {
				t.Run("relayed names the client", func(t *testing.T) { postfixNamesClientXForward(t, g, pf, rec) })
			} else {
				t.Run("relayed names the client", func(t *testing.T) { postfixNamesClientXClient(t, g, pf, rec) })
			}
			t.Run("unknown local recipient refused at RCPT", func(t *testing.T) { postfixUnknownRecipient(t, g) })
			t.Run("size limit as Postfix wrote it", func(t *testing.T) { postfixSizeLimit(t, g) })
			t.Run("restart while Postfix holds a message", func(t *testing.T) { postfixRestart(t, g, pf, rec) })
		})
	}
}

// With XFORWARD, Postfix's log line names the client and mailguard's queue
// id beside the hop it saw; its own Received: names that hop, and the one
// under it, which mailguard added, the client, its HELO and the queue id.
func postfixNamesClientXForward(t *testing.T, g *Gateway, pf *postfixtest.Postfix, rec *smtptest.Server) {
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
	if !regexp.MustCompile(`: client=localhost\[127\.0\.0\.1\], orig_queue_id=` + qid + `, orig_client=client2\.example\.com\[127\.0\.0\.2\]$`).MatchString(line) {
		t.Errorf("Postfix's line does not name the client: %s", line)
	}
	data := string(msgs[0].Data)
	pfRcv := regexp.MustCompile(`^Received: from mx\.test \(localhost \[127\.0\.0\.1\]\)\r?\n\tby postfix\.test \(Postfix\)`)
	mgRcv := regexp.MustCompile(`\nReceived: from client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)\r?\n\tby mx\.test \(mailguard\) with ESMTP id ` + qid)
	if !pfRcv.MatchString(data) || !mgRcv.MatchString(data) {
		t.Errorf("Received: fields as delivered:\n%s", data)
	}
	if _, ok := pf.WaitLog(30*time.Second, "to=<u@example.org>", "status=sent"); !ok {
		t.Errorf("Postfix did not log the delivery:\n%s", pf.Log())
	}
}

// With XCLIENT and XFORWARD IDENT, Postfix's log line names the real
// client address and mailguard's queue id, and Postfix's own Received:
// names the real client address and its HELO (Postfix's queue id is the
// one in it; mailguard's is in the field under it). A client in
// relay_networks may relay through Postfix, which now judges the client
// itself.
func postfixNamesClientXClient(t *testing.T, g *Gateway, pf *postfixtest.Postfix, rec *smtptest.Server) {
	before := rec.Count()
	c := g.DialFrom("127.0.0.2")
	qid := queueIDOf(t, c.Send("a@example.com", []string{"u@example.org"}, testMessage("through postfix by xclient", 100)))
	// The same client with another HELO name: Postfix hears that one.
	c.Expect(250, "EHLO second.example.com")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	qid2 := queueIDOf(t, c.Data(testMessage("second by xclient", 100)))
	c.Close()
	// A client of relay_networks, without a reverse name, relays out.
	r := g.DialFrom(strings.TrimSuffix(xclientRelayNetwork, "/32"))
	qid3 := queueIDOf(t, r.Send("a@example.org", []string{"x@example.net"}, testMessage("relayed by xclient", 100)))
	r.Close()
	msgs := rec.Wait(before+3, 60*time.Second)
	if len(msgs) != before+3 {
		t.Fatalf("recording server got %d messages, want %d\n%s", len(msgs), before+3, pf.Log())
	}
	msgs = msgs[before:]
	for i, want := range []struct{ qid, client, helo string }{
		{qid, `client2\.example\.com\[127\.0\.0\.2\]`, `client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)`},
		{qid2, `client2\.example\.com\[127\.0\.0\.2\]`, `second\.example\.com \(client2\.example\.com \[127\.0\.0\.2\]\)`},
		{qid3, `unknown\[127\.0\.0\.4\]`, `client\.test \(unknown \[127\.0\.0\.4\]\)`},
	} {
		line, ok := pf.WaitLog(30*time.Second, "orig_queue_id="+want.qid)
		if !ok {
			t.Errorf("no Postfix log line with orig_queue_id=%s:\n%s", want.qid, pf.Log())
		} else if !regexp.MustCompile(`: client=` + want.client + `, orig_queue_id=` + want.qid + `$`).MatchString(line) {
			t.Errorf("Postfix's line does not name the client and queue id %s alone: %s", want.qid, line)
		}
		// Postfix delivers in an order of its own: the message is the one
		// whose Received: from mailguard holds the queue id.
		var data string
		for _, m := range msgs {
			if strings.Contains(string(m.Data), "with ESMTP id "+want.qid) {
				data = string(m.Data)
			}
		}
		rcv := regexp.MustCompile(`^Received: from ` + want.helo + `\r?\n\tby postfix\.test \(Postfix\) with ESMTP id [0-9A-F]+\r?\n`)
		mgRcv := regexp.MustCompile(`\nReceived: from [^\n]+\r?\n\tby mx\.test \(mailguard\) with ESMTP id ` + want.qid)
		if !rcv.MatchString(data) || !mgRcv.MatchString(data) {
			t.Errorf("message %d: Received: fields as delivered:\n%s", i+1, data)
		}
	}
}

// An unknown recipient of Postfix's local_recipient_maps is refused at
// RCPT with Postfix's reply; the transaction goes on with another.
func postfixUnknownRecipient(t *testing.T, g *Gateway) {
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
}

// Postfix's message_size_limit, declared or not, is refused as Postfix
// wrote it.
func postfixSizeLimit(t *testing.T, g *Gateway) {
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
}

// mailguard stopped and started again, with the same configuration and
// data_dir, while Postfix holds a message it took through mailguard: the
// message is delivered afterwards, once, and so is one taken through the
// new mailguard; Postfix's queue ends empty.
func postfixRestart(t *testing.T, g *Gateway, pf *postfixtest.Postfix, rec *smtptest.Server) {
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
	g2 := Start(t, Options{Backend: rec, DNS: g.DNS, Settings: g.Settings})
	rec.RefuseData(filters.Reply{})
	if err := pf.Flush(); err != nil {
		t.Fatal(err)
	}
	c2 := g2.DialFrom("127.0.0.2")
	qid2 := queueIDOf(t, c2.Send("a@example.com", []string{"u@example.org"}, testMessage("after restart", 100)))
	c2.Close()
	msgs := rec.Wait(before+2, 60*time.Second)
	if len(msgs) < before+2 {
		t.Fatalf("recording server got %d messages after the restart, want %d\n%s", len(msgs), before+2, pf.Log())
	}
	for _, id := range []string{qid, qid2} {
		n := 0
		for _, m := range msgs[before:] {
			if strings.Contains(string(m.Data), "with ESMTP id "+id) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("message of queue id %s delivered %d times, want once", id, n)
		}
	}
	// Postfix removes a message from its queue after it logged it sent.
	for _, id := range []string{qid, qid2} {
		line, ok := pf.WaitLog(30*time.Second, "orig_queue_id="+id)
		m := regexp.MustCompile(`\]: ([0-9A-F]+): client=`).FindStringSubmatch(line)
		if !ok || m == nil {
			t.Errorf("no Postfix log line with orig_queue_id=%s:\n%s", id, pf.Log())
			continue
		}
		pfID := m[1]
		if _, ok := pf.WaitLog(30*time.Second, "]: "+pfID+": removed"); !ok {
			t.Errorf("Postfix did not remove %s (queue id %s) from its queue:\n%s", pfID, id, pf.Log())
		}
	}
	if n, err := pf.Queued(); err != nil || n != 0 {
		t.Errorf("Postfix's queue holds %d messages (%v) after delivery, want 0", n, err)
	}
}

// A sender Postfix's own access table refuses is refused to the client
// with Postfix's words (at RCPT, as Postfix's smtpd_delay_reject does), in
// both modes.
func TestPostfixBehindSenderRefused(t *testing.T) {
	for _, mode := range []string{"xforward", "xclient"} {
		t.Run(mode, func(t *testing.T) {
			g, _, rec := postfixBehind(t, map[string]string{
				"smtpd_sender_restrictions": "check_sender_access,inline:{spammer@example.net=REJECT}",
			}, map[string]any{"backend_forward": mode})
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
		})
	}
}

// A backend that offers neither XFORWARD nor XCLIENT (the recording
// server) gets the transaction as before in every mode: the same
// commands, nothing more, and nothing is logged about it.
func TestBackendWithoutXForward(t *testing.T) {
	for _, mode := range []string{"xforward", "xclient", "off"} {
		t.Run(mode, func(t *testing.T) {
			g := Start(t, Options{Settings: map[string]any{"backend_forward": mode}})
			c := g.DialFrom("127.0.0.2")
			m, _ := sent(t, g, c, "a@example.com", []string{"u@example.org"}, testMessage("plain backend", 100))
			c.Close()
			if m.From != "a@example.com" || len(m.Rcpts) != 1 || m.Helo != "mx.test" {
				t.Errorf("backend got %+v", m)
			}
			var verbs []string
			for _, l := range g.Backend.CommandLines() {
				v, _, _ := strings.Cut(l, " ")
				verbs = append(verbs, strings.TrimSuffix(strings.ToUpper(v), ":"))
			}
			got := strings.Join(verbs, " ")
			if !strings.Contains(got, "EHLO MAIL RCPT DATA") || strings.Contains(got, "XFORWARD") || strings.Contains(got, "XCLIENT") {
				t.Errorf("backend heard %q, want EHLO MAIL RCPT DATA and neither XFORWARD nor XCLIENT", got)
			}
			if l := g.LogLines(`backend refused the client's identity`); len(l) != 0 {
				t.Errorf("logged: %q", l)
			}
		})
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

// The master.cf listeners docs/backend-forward.md and docs/deployment.md
// give an operator to copy are the ones these tests run Postfix with.
func TestPostfixListenerDocumented(t *testing.T) {
	blocks := func(path string) []map[string]string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]string
		var cur map[string]string
		for line := range strings.SplitSeq(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "127.0.0.1:10025 inet"):
				cur = map[string]string{}
				out = append(out, cur)
			case cur != nil && strings.HasPrefix(line, "  -o "):
				k, v, _ := strings.Cut(strings.TrimPrefix(line, "  -o "), "=")
				cur[k] = v
			default:
				cur = nil
			}
		}
		return out
	}
	fwd := blocks("../docs/backend-forward.md")
	if len(fwd) != 2 {
		t.Fatalf("docs/backend-forward.md has %d listeners, want 2 (xforward, xclient)", len(fwd))
	}
	for i, mode := range []string{"xforward", "xclient"} {
		if want := documentedListener(mode); !maps.Equal(fwd[i], want) {
			t.Errorf("docs/backend-forward.md, %s listener:\n got %v\nwant %v", mode, fwd[i], want)
		}
	}
	dep := blocks("../docs/deployment.md")
	if len(dep) != 1 || !maps.Equal(dep[0], documentedListener("xforward")) {
		t.Errorf("docs/deployment.md listener %v, want %v", dep, documentedListener("xforward"))
	}
}

// A client outside relay_networks that authenticated to mailguard (SMTP
// AUTH under STARTTLS) relays to another domain through Postfix,
// configured as the docs say, in both modes: mailguard allowed the relay,
// and Postfix takes it, since mailguard hands an authenticated client's
// transaction with XFORWARD even under xclient (with XCLIENT, Postfix
// 3.7.11 judged the client's own address and refused: "454 4.7.1
// Relay access denied"). Postfix's log names the client and mailguard's
// queue id beside mailguard's hop.
func TestPostfixBehindAuthenticatedRelay(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	users := filepath.Join(dir, "users")
	WriteConfigRaw(t, users, userLine(t, "alice", "s3cret"))
	for _, mode := range []string{"xforward", "xclient"} {
		t.Run(mode, func(t *testing.T) {
			g, pf, rec := postfixBehind(t, nil, map[string]any{
				"backend_forward": mode,
				"tls":             map[string]any{"cert": cert, "key": key},
				"auth":            map[string]any{"users_file": users},
			})
			c := g.DialFrom("127.0.0.2")
			defer c.Close()
			c.Expect(250, "EHLO client.test")
			c.StartTLS()
			c.Expect(250, "EHLO client.test")
			// Before AUTH, the same relay is mailguard's to refuse.
			c.Expect(250, "MAIL FROM:<alice@example.org>")
			if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 554 {
				t.Errorf("relay before AUTH: %s, want 554", r)
			}
			c.Expect(250, "RSET")
			c.Expect(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret")))
			c.Expect(250, "MAIL FROM:<alice@example.org>")
			if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 250 {
				t.Fatalf("RCPT to another domain after AUTH: %s, want 250\n%s", r, pf.Log())
			}
			qid := queueIDOf(t, c.Data(testMessage("authenticated relay", 100)))
			msgs := rec.Wait(1, 60*time.Second)
			if len(msgs) != 1 || len(msgs[0].Rcpts) != 1 || msgs[0].Rcpts[0] != "x@example.net" {
				t.Fatalf("recording server got %d messages, want 1 for x@example.net\n%s", len(msgs), pf.Log())
			}
			data := string(msgs[0].Data)
			pfRcv := regexp.MustCompile(`^Received: from mx\.test \(localhost \[127\.0\.0\.1\]\)\r?\n\tby postfix\.test \(Postfix\)`)
			mgRcv := regexp.MustCompile(`\nReceived: from client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)\r?\n\tby mx\.test \(mailguard\) with ESMTPSA id ` + qid)
			if !pfRcv.MatchString(data) || !mgRcv.MatchString(data) {
				t.Errorf("Received: fields as delivered:\n%s", data)
			}
			line, ok := pf.WaitLog(30*time.Second, "orig_queue_id="+qid)
			if !ok {
				t.Fatalf("no Postfix log line with orig_queue_id=%s:\n%s", qid, pf.Log())
			}
			if !regexp.MustCompile(`: client=localhost\[127\.0\.0\.1\], orig_queue_id=` + qid + `, orig_client=client2\.example\.com\[127\.0\.0\.2\]$`).MatchString(line) {
				t.Errorf("Postfix's line does not name mailguard's hop, the queue id and the client: %s", line)
			}
			decided := g.LogLines(`authenticated client handed to the backend with XFORWARD, not XCLIENT.*queue_id=` + qid + `.*user=alice`)
			if mode == "xclient" && len(decided) != 1 {
				t.Errorf("xclient: mailguard logged %d lines saying it used XFORWARD for alice's transaction, want 1:\n%s", len(decided), g.Log())
			}
			if mode == "xforward" && len(decided) != 0 {
				t.Errorf("xforward: mailguard logged %q", decided)
			}
		})
	}
}
