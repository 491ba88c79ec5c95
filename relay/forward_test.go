package relay

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/postfixtest"
	"mailguard/internal/testutil/smtptest"
)

func TestXText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mx.example.org", "mx.example.org"},
		{"[UNAVAILABLE]", "[UNAVAILABLE]"},
		{"a b", "a+20b"},
		{"x+y=z", "x+2By+3Dz"},
		{"\r\nMAIL FROM:<a@b>", "+0D+0AMAIL+20FROM:<a@b>"},
		{"caf\xc3\xa9", "caf+C3+A9"},
		{"\x7f~!", "+7F~!"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := XText(tt.in); got != tt.want {
			t.Errorf("XText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	o := Origin{Addr: netip.MustParseAddr("192.0.2.7"), Port: 40001, Helo: "client.test", ESMTP: true, QueueID: "4XyZ", Login: "u"}
	tests := []struct {
		name, verb, offered string
		o                   Origin
		want                []string
	}{
		{"every xforward attribute", "XFORWARD", "NAME ADDR PORT PROTO HELO IDENT SOURCE", o,
			[]string{"XFORWARD NAME=[UNAVAILABLE] ADDR=192.0.2.7 PORT=40001 PROTO=ESMTP HELO=client.test IDENT=4XyZ SOURCE=REMOTE"}},
		{"only announced ones", "XFORWARD", "addr helo", o,
			[]string{"XFORWARD ADDR=192.0.2.7 HELO=client.test"}},
		{"nothing announced", "XFORWARD", "", o, nil},
		{"xclient carries neither LOGIN nor IDENT", "XCLIENT", "NAME ADDR PORT PROTO HELO LOGIN IDENT SOURCE", o,
			[]string{"XCLIENT NAME=[UNAVAILABLE] ADDR=192.0.2.7 PORT=40001 PROTO=ESMTP HELO=client.test"}},
		{"ipv6 and HELO", "XFORWARD", "ADDR PROTO NAME",
			Origin{Addr: netip.MustParseAddr("2001:db8::1"), Name: "mx.example.org"},
			[]string{"XFORWARD NAME=mx.example.org ADDR=IPV6:2001:db8::1 PROTO=SMTP"}},
		{"a HELO with spaces and CRLF stays one parameter", "XFORWARD", "HELO",
			Origin{Addr: netip.MustParseAddr("192.0.2.7"), Helo: "x\r\nRCPT TO:<a@b> y=z"},
			[]string{"XFORWARD HELO=x+0D+0ARCPT+20TO:<a@b>+20y+3Dz"}},
	}
	for _, tt := range tests {
		mode := ForwardXForward
		if tt.verb == "XCLIENT" {
			mode = ForwardXClient
		}
		got := commands(tt.verb, tt.offered, tt.o.attrs(mode))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	// After XCLIENT, the queue id alone, when announced.
	ident := [][2]string{{"IDENT", "4XyZ"}}
	if got := commands("XFORWARD", "NAME ADDR PROTO HELO SOURCE PORT IDENT", ident); strings.Join(got, "|") != "XFORWARD IDENT=4XyZ" {
		t.Errorf("IDENT alone: %q", got)
	}
	if got := commands("XFORWARD", "NAME ADDR PROTO HELO", ident); got != nil {
		t.Errorf("IDENT not announced: %q, want nothing", got)
	}
}

// Long values are cut to 255 encoded characters, and XFORWARD is split so
// no line is over 512 octets.
func TestCommandsLong(t *testing.T) {
	o := Origin{Addr: netip.MustParseAddr("192.0.2.7"), Name: strings.Repeat("n", 300), Helo: strings.Repeat("h+", 200), QueueID: "Q"}
	lines := commands("XFORWARD", "NAME ADDR PORT PROTO HELO IDENT SOURCE", o.attrs(ForwardXForward))
	if len(lines) < 2 {
		t.Fatalf("want the attributes over several lines, got %q", lines)
	}
	for _, l := range lines {
		if len(l)+2 > 512 {
			t.Errorf("line of %d octets: %q", len(l)+2, l)
		}
		for f := range strings.FieldsSeq(l) {
			if _, v, ok := strings.Cut(f, "="); ok && len(v) > maxAttrLen {
				t.Errorf("value of %d characters: %q", len(v), f)
			}
			if strings.HasSuffix(f, "+") || strings.HasSuffix(f, "+2") {
				t.Errorf("escape cut in two: %q", f)
			}
		}
	}
	x := commands("XCLIENT", "NAME ADDR HELO", o.attrs(ForwardXClient))
	if len(x) != 1 || len(x[0])+2 > 512 || !strings.Contains(x[0], "ADDR=192.0.2.7") {
		t.Errorf("XCLIENT: %q", x)
	}
}

func TestPlainHelo(t *testing.T) {
	for s, want := range map[string]bool{
		"mx.example.org": true, "[192.0.2.1]": true, "[IPv6:2001:db8::1]": true, "host_1": true,
		"": false, "a b": false, "a]": false, "x<y": false, "caf\xc3\xa9": false,
	} {
		if got := plainHelo(s); got != want {
			t.Errorf("plainHelo(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzXText(f *testing.F) {
	for _, s := range []string{"mx.example.org", "a b+c=d", "\x00\r\n\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := XText(s)
		var dec strings.Builder
		for i := 0; i < len(e); i++ {
			c := e[i]
			if c < '!' || c > '~' || c == '=' {
				t.Fatalf("XText(%q) = %q holds %q", s, e, c)
			}
			if c == '+' {
				if i+2 >= len(e)+0 && i+2 > len(e)-1 {
					t.Fatalf("XText(%q) = %q: escape cut short", s, e)
				}
				var b byte
				for _, h := range e[i+1 : i+3] {
					b <<= 4
					switch {
					case h >= '0' && h <= '9':
						b |= byte(h - '0')
					case h >= 'A' && h <= 'F':
						b |= byte(h-'A') + 10
					default:
						t.Fatalf("XText(%q) = %q: bad escape", s, e)
					}
				}
				dec.WriteByte(b)
				i += 2
				continue
			}
			dec.WriteByte(c)
		}
		if dec.String() != s {
			t.Fatalf("XText(%q) = %q decodes to %q", s, e, dec.String())
		}
		if c := xtextCapped(s, 20); len(c) > 20 || !strings.HasPrefix(e, c) {
			t.Fatalf("xtextCapped(%q, 20) = %q", s, c)
		} else if len(c) < len(e) && len(XText(s[:decodedLen(c)+1])) <= 20 {
			t.Fatalf("xtextCapped(%q, 20) = %q, not the longest start that fits", s, c)
		}
	})
}

func origin() Origin {
	return Origin{Addr: netip.MustParseAddr("192.0.2.7"), Port: 40001, Name: "mail.sender.test", Helo: "helo.sender.test", ESMTP: true, QueueID: "4MgQid77"}
}

// forward runs ForwardMail for o and a@sender.test, then RSET; it returns
// what ForwardMail sent before MAIL FROM, and its error.
func forward(t *testing.T, c *Client, mode ForwardMode, o Origin) ([]ForwardReply, error) {
	t.Helper()
	ctx := context.Background()
	sent, r, err := c.ForwardMail(ctx, mode, o, "a@sender.test", MailOptions{})
	if err != nil {
		return sent, err
	}
	if r.Code != 250 {
		t.Fatalf("MAIL after %s: %v", mode, r)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatalf("RSET: %v", err)
	}
	return sent, nil
}

// sendWith runs one transaction with ForwardMail, whose commands the
// backend must take, and returns the verbs it sent before MAIL FROM.
func sendWith(t *testing.T, c *Client, mode ForwardMode, o Origin) []string {
	t.Helper()
	ctx := context.Background()
	sent, r, err := c.ForwardMail(ctx, mode, o, "a@sender.test", MailOptions{})
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	for _, f := range sent {
		if f.Refused() {
			t.Errorf("forward %s: %s refused: %v", mode, f.Verb, f.Reply)
		}
	}
	if r.Code != 250 {
		t.Fatalf("MAIL: %v", r)
	}
	deliver(t, c)
	var verbs []string
	for _, f := range sent {
		verbs = append(verbs, f.Verb)
	}
	return verbs
}

// deliver ends the transaction MAIL FROM began: one recipient and a
// message, both of which the backend must take.
func deliver(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	if r, err := c.Rcpt(ctx, "b@example.org"); err != nil || r.Code != 250 {
		t.Fatalf("RCPT: %v %v", r, err)
	}
	if r, err := c.Data(ctx, strings.NewReader("From: a@sender.test\r\nSubject: fwd\r\n\r\nhi\r\n")); err != nil || r.Code != 250 {
		t.Fatalf("DATA: %v %v", r, err)
	}
}

// Against Postfix, XFORWARD makes its log name the client and our queue id,
// and a second transaction on the same connection names its own: sent in
// one write with MAIL FROM, and one at a time to a Postfix that does not
// offer PIPELINING.
func TestForwardPostfix(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			rec := smtptest.Start(t, smtptest.Options{})
			main := map[string]string{
				"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
				"smtpd_authorized_xclient_hosts":  "127.0.0.0/8",
			}
			if !pipelining {
				main["smtpd_discard_ehlo_keywords"] = "pipelining"
			}
			pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: main})
			c := dial(t, pf.Addr)
			if ok, _ := c.Extension("PIPELINING"); ok != pipelining {
				t.Fatalf("Postfix offers PIPELINING: %v, want %v", ok, pipelining)
			}
			o := origin()
			if v := sendWith(t, c, ForwardXForward, o); strings.Join(v, " ") != "XFORWARD" {
				t.Errorf("sent %q, want XFORWARD", v)
			}
			o2 := o
			o2.Addr, o2.Helo, o2.QueueID, o2.Name = netip.MustParseAddr("198.51.100.9"), "second.test", "4MgQid78", ""
			sendWith(t, c, ForwardXForward, o2)
			msgs := rec.Wait(2, 30*time.Second)
			if len(msgs) != 2 {
				t.Fatalf("recording server got %d messages, want 2\n%s", len(msgs), pf.Log())
			}
			// XFORWARD is for logging: Postfix's own Received: names the
			// hop it saw (the gateway), its log names the client and the
			// queue id.
			for _, want := range [][]string{
				{"client=mail.sender.test[192.0.2.7]", "orig_queue_id=4MgQid77"},
				{"client=unknown[198.51.100.9]", "orig_queue_id=4MgQid78"},
			} {
				if _, ok := pf.WaitLog(30*time.Second, want...); !ok {
					t.Errorf("no log line with %q:\n%s", want, pf.Log())
				}
			}
		})
	}
}

// XCLIENT hands the connection to the client: Postfix's log and Received:
// name it, including its HELO said again in EHLO; the connection is then
// not for anyone else. XFORWARD, still offered after XCLIENT since Postfix
// authorized it for the gateway's own address, adds the queue id of each
// transaction to Postfix's log.
func TestForwardXClientPostfix(t *testing.T) {
	rec := smtptest.Start(t, smtptest.Options{})
	// The backend now judges the client itself: it may not relay, so the
	// recipient's domain is one Postfix relays to.
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_authorized_xclient_hosts":  "127.0.0.0/8",
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
		"relay_domains":                   "example.org",
	}})
	c := dial(t, pf.Addr)
	if c.Impersonating() {
		t.Fatal("impersonating before XCLIENT")
	}
	if v := sendWith(t, c, ForwardXClient, origin()); strings.Join(v, " ") != "XCLIENT XFORWARD" {
		t.Errorf("first transaction sent %q, want XCLIENT then XFORWARD", v)
	}
	if !c.Impersonating() {
		t.Error("not impersonating after XCLIENT")
	}
	// The same client's next transaction does not say XCLIENT again, but
	// names its own queue id.
	o := origin()
	o.QueueID = "4MgQid78"
	if v := sendWith(t, c, ForwardXClient, o); strings.Join(v, " ") != "XFORWARD" {
		t.Errorf("second transaction sent %q, want XFORWARD alone", v)
	}
	// A changed HELO needs a connection of its own.
	o.Helo = "again.sender.test"
	if _, err := forward(t, c, ForwardXClient, o); !errors.Is(err, ErrOriginChanged) {
		t.Errorf("XCLIENT for another HELO on the same connection: %v, want ErrOriginChanged", err)
	}
	msgs := rec.Wait(2, 30*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("recording server got %d messages, want 2\n%s", len(msgs), pf.Log())
	}
	want := "Received: from helo.sender.test (mail.sender.test [192.0.2.7])"
	if !strings.HasPrefix(string(msgs[0].Data), want) {
		t.Errorf("message does not start with %q:\n%s", want, msgs[0].Data)
	}
	for _, qid := range []string{"4MgQid77", "4MgQid78"} {
		line, ok := pf.WaitLog(30*time.Second, "client=mail.sender.test[192.0.2.7]", "orig_queue_id="+qid)
		if !ok {
			t.Errorf("no log line naming the client and queue id %s:\n%s", qid, pf.Log())
		}
		// Only IDENT was forwarded: no second, forwarded client.
		if strings.Contains(line, "orig_client=") {
			t.Errorf("log line names a forwarded client: %s", line)
		}
	}
}

// With xclient, an authenticated client's transaction goes with XFORWARD:
// Postfix judges the relay by the gateway's address, which its mynetworks
// trusts (after XCLIENT it would refuse it: the client's address is not in
// mynetworks, and Postfix 3.7.11 ignores XCLIENT's LOGIN without a SASL
// server), and its log still names the client. A connection already
// handed to the client with XCLIENT is not used for it.
func TestForwardXClientAuthenticatedPostfix(t *testing.T) {
	rec := smtptest.Start(t, smtptest.Options{})
	// example.org is neither Postfix's nor one it relays to.
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_authorized_xclient_hosts":  "127.0.0.0/8",
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
	}})
	o := origin()
	o.Login = "alice"
	if m := o.Mode(ForwardXClient); m != ForwardXForward {
		t.Errorf("mode for an authenticated client under xclient: %s, want xforward", m)
	}
	if m := origin().Mode(ForwardXClient); m != ForwardXClient {
		t.Errorf("mode for a client that did not authenticate: %s, want xclient", m)
	}
	c := dial(t, pf.Addr)
	if v := sendWith(t, c, ForwardXClient, o); strings.Join(v, " ") != "XFORWARD" {
		t.Errorf("authenticated transaction sent %q, want XFORWARD alone", v)
	}
	if c.Impersonating() {
		t.Error("impersonating after an authenticated transaction")
	}
	if msgs := rec.Wait(1, 30*time.Second); len(msgs) != 1 {
		t.Fatalf("recording server got %d messages, want 1\n%s", len(msgs), pf.Log())
	}
	if _, ok := pf.WaitLog(30*time.Second, "client=localhost[127.0.0.1], orig_queue_id=4MgQid77, orig_client=mail.sender.test[192.0.2.7]"); !ok {
		t.Errorf("no log line naming the gateway, the queue id and the client:\n%s", pf.Log())
	}

	c2 := dial(t, pf.Addr)
	if _, err := forward(t, c2, ForwardXClient, origin()); err != nil || !c2.Impersonating() {
		t.Fatalf("XCLIENT: %v, impersonating %v", err, c2.Impersonating())
	}
	if _, err := forward(t, c2, ForwardXClient, o); !errors.Is(err, ErrOriginChanged) {
		t.Errorf("the client authenticated, on its XCLIENT connection: %v, want ErrOriginChanged", err)
	}
	if _, err := forward(t, c2, ForwardXForward, origin()); !errors.Is(err, ErrOriginChanged) {
		t.Errorf("xforward on an XCLIENT connection: %v, want ErrOriginChanged", err)
	}
}

// A backend that offers XCLIENT but not XFORWARD gets XCLIENT alone.
func TestForwardXClientWithoutXForward(t *testing.T) {
	rec := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_authorized_xclient_hosts": "127.0.0.0/8",
		"relay_domains":                  "example.org",
	}})
	c := dial(t, pf.Addr)
	if v := sendWith(t, c, ForwardXClient, origin()); strings.Join(v, " ") != "XCLIENT" {
		t.Errorf("sent %q, want XCLIENT alone", v)
	}
	if msgs := rec.Wait(1, 30*time.Second); len(msgs) != 1 {
		t.Fatalf("recording server got %d messages, want 1\n%s", len(msgs), pf.Log())
	}
	line, ok := pf.WaitLog(30*time.Second, "client=mail.sender.test[192.0.2.7]")
	if !ok || strings.Contains(line, "orig_queue_id") {
		t.Errorf("log line %q, want the client and no forwarded queue id\n%s", line, pf.Log())
	}
}

// A refused XCLIENT leaves the connection the gateway's: the queue id
// still goes with XFORWARD IDENT, and the message goes through.
func TestForwardXClientRefusedPostfix(t *testing.T) {
	rec := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_authorized_xclient_hosts":  "127.0.0.0/8",
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
		"relay_domains":                   "example.org",
	}})
	c := dial(t, pf.Addr)
	bad := origin()
	// Postfix refuses a NAME that is not a valid host name (all-numeric).
	bad.Name = "1.2"
	ctx := context.Background()
	sent, r, err := c.ForwardMail(ctx, ForwardXClient, bad, "a@sender.test", MailOptions{})
	if err != nil || r.Code != 250 || len(sent) != 2 || sent[0].Verb != "XCLIENT" || sent[0].Reply.Code != 501 ||
		sent[1].Verb != "XFORWARD" || sent[1].Refused() {
		t.Fatalf("XCLIENT with a numeric NAME: %+v, MAIL %v, %v; want Postfix's 501, then XFORWARD and MAIL taken", sent, r, err)
	}
	if c.Impersonating() {
		t.Error("impersonating after a refused XCLIENT")
	}
	deliver(t, c)
	if msgs := rec.Wait(1, 30*time.Second); len(msgs) != 1 {
		t.Fatalf("after a refused XCLIENT the recording server got %d messages, want 1\n%s", len(msgs), pf.Log())
	}
	if _, ok := pf.WaitLog(30*time.Second, "client=localhost[127.0.0.1], orig_queue_id=4MgQid77"); !ok {
		t.Errorf("no log line with the gateway as client and the queue id:\n%s", pf.Log())
	}
}

// A refused XFORWARD leaves the connection usable and the message goes
// through; a backend that does not offer it gets nothing.
func TestForwardRefusedOrAbsent(t *testing.T) {
	rec := smtptest.Start(t, smtptest.Options{})
	pf := postfixtest.Start(t, postfixtest.Options{Relay: rec.Addr, Main: map[string]string{
		"smtpd_authorized_xforward_hosts": "127.0.0.0/8",
	}})
	c := dial(t, pf.Addr)
	bad := origin()
	// Postfix refuses a NAME that is not a valid host name (all-numeric).
	bad.Name = "1.2"
	sent, err := forward(t, c, ForwardXForward, bad)
	if err != nil || len(sent) != 1 || sent[0].Reply.Code/100 != 5 || !sent[0].Refused() {
		t.Fatalf("XFORWARD with a numeric NAME: %v %v, want Postfix's 5xx", sent, err)
	}
	sendWith(t, c, ForwardXForward, Origin{})
	if msgs := rec.Wait(1, 30*time.Second); len(msgs) != 1 {
		t.Fatalf("after a refused XFORWARD the recording server got %d messages, want 1", len(msgs))
	}

	plain := smtptest.Start(t, smtptest.Options{})
	pc := dial(t, plain.Addr)
	for _, mode := range []ForwardMode{ForwardXForward, ForwardXClient, ForwardOff} {
		if sent, err := forward(t, pc, mode, origin()); err != nil || len(sent) != 0 {
			t.Errorf("%s to a backend without it: %v %v, want nothing sent", mode, sent, err)
		}
	}
	sendWith(t, pc, ForwardXForward, origin())
	if m := plain.Wait(1, 10*time.Second); len(m) != 1 || m[0].Helo != "gw.test" {
		t.Errorf("plain backend: %+v", m)
	}
}

// decodedLen is how many octets an xtext string stands for.
func decodedLen(e string) int {
	return len(e) - 2*strings.Count(e, "+")
}
