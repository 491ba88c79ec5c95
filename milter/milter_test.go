package milter

import (
	"context"
	"strconv"
	"strings"
	"testing"

	milterlib "github.com/d--j/go-milter"
)

const cleanMsg = `Received: from client.test (client2.example.com [127.0.0.2])
	by mta.example.org (Postfix) with ESMTP id MTAQ0001
	for <u@example.org>; Mon, 30 Nov 2026 10:00:00 +0000
From: Alice <alice@example.com>
To: u@example.org
Subject: lunch
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <lunch-1@example.com>
X-Spam-Flag: YES
Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com
Authentication-Results: other.example; spf=none

Shall we meet at noon?
`

const gtubeMsg = `From: a@example.com
To: u@example.org
Subject: test
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <gtube@example.com>

XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X
`

const twoFromMsg = `From: a@example.com
From: b@example.com
To: u@example.org
Subject: two senders
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <two@example.com>

body
`

// wantReply checks a custom reply: its code, and its text (enhanced code
// first) starting with text and ending with a queue id of ours.
func wantReply(t *testing.T, what string, act *milterlib.Action, code uint16, text string) {
	t.Helper()
	if act.Type != milterlib.ActionRejectWithCode || act.SMTPCode != code {
		t.Fatalf("%s: got %v; want a %d custom reply", what, act, code)
	}
	reply := strings.TrimPrefix(act.SMTPReply, strconv.Itoa(int(code))+" ")
	if !strings.HasPrefix(reply, text) {
		t.Fatalf("%s: reply %q; want it to start %q", what, act.SMTPReply, text)
	}
	i := strings.LastIndex(reply, "; queue id ")
	if i < 0 || len(reply[i+len("; queue id "):]) != 12 {
		t.Fatalf("%s: reply %q does not end with a queue id", what, act.SMTPReply)
	}
}

// TestListedClientRefusedAtRcpt: a client the DNSBL lists hears, at each
// RCPT TO, the 554 text it would hear from the proxy; an authenticated
// client ({auth_authen}) on the same address is not looked up.
func TestListedClientRefusedAtRcpt(t *testing.T) {
	h := startHarness(t, "", nil)
	m := h.connect(t, "127.0.0.2", "client2.example.com", "client.test")
	m.want(m.mail("a@example.com", "SIZE=300", ""), nil)("MAIL", milterlib.ActionContinue)
	for _, to := range []string{"u@example.org", "v@example.org"} {
		wantReply(t, "RCPT "+to, m.rcpt(to), 554,
			"5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; Listed in bl.test, see https://bl.test/lookup?127.0.0.2")
	}
	m.abort()

	a := h.connect(t, "127.0.0.2", "client2.example.com", "client.test")
	m.want(a.mail("alice@example.com", "", "alice"), nil)("MAIL authenticated", milterlib.ActionContinue)
	m.want(a.rcpt("u@example.org"), nil)("RCPT authenticated", milterlib.ActionContinue)
	m.want(a.rcpt("someone@elsewhere.test"), nil)("RCPT authenticated, relayed", milterlib.ActionContinue)
	if !strings.Contains(h.logs.String(), "mta_queue_id=MTAQ0001") {
		t.Errorf("the MTA's queue id is not logged beside ours:\n%s", h.logs.String())
	}
}

// TestMessagesOnOneConnection: several messages on one milter connection,
// with an abort between them, each judged on its own: the clean one gets
// the verdict fields and loses the forged ones, the malformed one is
// refused 550 5.6.0, GTUBE 550 5.7.1; recipients outside the local domains
// are the MTA's decision by default.
func TestMessagesOnOneConnection(t *testing.T) {
	h := startHarness(t, "", nil)
	m := h.connect(t, "127.0.0.5", "", "client.test")

	// Clean, with forged verdict fields.
	m.want(m.mail("alice@example.com", "SIZE=500 BODY=8BITMIME", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	m.want(m.rcpt("friend@elsewhere.test"), nil)("RCPT relayed by the MTA's decision", milterlib.ActionContinue)
	mods, act := m.data(cleanMsg)
	if act.Type != milterlib.ActionAccept {
		t.Fatalf("clean message: %v; want accept", act)
	}
	deleted, added, _ := headerChanges(mods)
	if got, want := strings.Join(deleted, " "), "Authentication-Results/1 X-Spam-Flag/1"; got != want {
		t.Errorf("deleted fields %q, want %q (mods %v)", got, want, mods)
	}
	if s := added["X-Spam-Status"]; !strings.HasPrefix(s, "No, score=") {
		t.Errorf("X-Spam-Status %q; want a No verdict (mods %v)", s, mods)
	}
	if ar := added["Authentication-Results"]; !strings.HasPrefix(ar, "mx.example.org;") || !strings.Contains(ar, "spf=") {
		t.Errorf("Authentication-Results %q; want mx.example.org's SPF result", ar)
	}
	if _, ok := added["X-Spam-Flag"]; ok {
		t.Errorf("a clean message got X-Spam-Flag")
	}
	for _, a := range mods {
		if a.Type == milterlib.ActionInsertHeader && a.HeaderIndex < 1 {
			t.Errorf("%v: inserted above the MTA's own Received:", a)
		}
	}

	// Aborted after the header (the client's RSET).
	m.want(m.mail("alice@example.com", "", ""), nil)("MAIL 2", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT 2", milterlib.ActionContinue)
	m.want(m.s.DataStart())("DATA 2", milterlib.ActionContinue)
	m.want(m.s.HeaderField("From", " a@example.com", nil))("header", milterlib.ActionContinue)
	m.abort()

	// Malformed.
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL 3", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT 3", milterlib.ActionContinue)
	_, act = m.data(twoFromMsg)
	wantReply(t, "two From fields", act, 550, "5.6.0 Message rejected: duplicate From header")

	// GTUBE.
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL 4", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT 4", milterlib.ActionContinue)
	_, act = m.data(gtubeMsg)
	wantReply(t, "GTUBE", act, 550, "5.7.1 Message rejected as spam: score 10")
	if n := countEntries(t, h); n != 0 {
		t.Errorf("%d messages in the quarantine; want none", n)
	}
}

// TestRelayControlByMailguard: relay_control: mailguard refuses a foreign
// recipient as the proxy does, with the proxy's text.
func TestRelayControlByMailguard(t *testing.T) {
	h := startHarness(t, "milter: {relay_control: mailguard}\n", nil)
	m := h.connect(t, "127.0.0.5", "", "client.test")
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	wantReply(t, "foreign recipient", m.rcpt("u@elsewhere.test"), 554, "5.7.1 <u@elsewhere.test>: Relay access denied")
	m.want(m.rcpt("u@example.org"), nil)("local recipient", milterlib.ActionContinue)
}

// TestQuarantineDiscard: a message scored into quarantine is stored in the
// gateway's quarantine, as the MTA would have delivered it, and discarded
// at the MTA.
func TestQuarantineDiscard(t *testing.T) {
	h := startHarness(t, "", nil)
	m := h.connect(t, "127.0.0.8", "", "client.test")
	m.want(m.mail("alice@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	mods, act := m.data(cleanMsg)
	if act.Type != milterlib.ActionDiscard {
		t.Fatalf("quarantined message: %v; want discard", act)
	}
	if len(mods) != 0 {
		t.Errorf("a discarded message got changes %v", mods)
	}
	list, err := h.store.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("quarantine holds %d entries (%v); want 1", len(list), err)
	}
	e := list[0]
	if e.MailFrom != "alice@example.com" || len(e.Rcpts) != 1 || e.Rcpts[0] != "u@example.org" || e.ClientIP != "127.0.0.8" {
		t.Errorf("entry %+v; want the envelope of the message", e)
	}
	_, rc, err := h.store.Get(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := readAll(t, rc)
	for _, want := range []string{"X-Spam-Status: Yes, score=12.0", "X-Spam-Flag: YES\r\n", "Received: from client.test", "Shall we meet at noon?"} {
		if !strings.Contains(stored, want) {
			t.Errorf("stored message lacks %q:\n%s", want, stored)
		}
	}
	if strings.Contains(stored, "spf=pass smtp.mailfrom") {
		t.Errorf("stored message kept the forged Authentication-Results:\n%s", stored)
	}
}

// TestQuarantineHold: with quarantine_action: hold the MTA is asked to
// hold the message (Postfix's hold queue), with the verdict fields added.
func TestQuarantineHold(t *testing.T) {
	h := startHarness(t, "milter: {quarantine_action: hold}\n", nil)
	m := h.connect(t, "127.0.0.8", "", "client.test")
	m.want(m.mail("alice@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	mods, act := m.data(cleanMsg)
	if act.Type != milterlib.ActionAccept {
		t.Fatalf("held message: %v; want accept with a quarantine action", act)
	}
	_, added, reason := headerChanges(mods)
	if !strings.Contains(reason, "score over quarantine threshold") {
		t.Errorf("quarantine reason %q (mods %v)", reason, mods)
	}
	if added["X-Spam-Flag"] != "YES" {
		t.Errorf("held message lacks X-Spam-Flag: YES (mods %v)", mods)
	}
	if n := countEntries(t, h); n != 0 {
		t.Errorf("%d messages in mailguard's quarantine; want none (the MTA holds it)", n)
	}
}

// TestQuarantineUnwritable: when the quarantine cannot store the message
// the MTA is told to tempfail it, never to discard it.
func TestQuarantineUnwritable(t *testing.T) {
	h := startHarness(t, "", func(c *Config) { c.Holder = nil })
	m := h.connect(t, "127.0.0.8", "", "client.test")
	m.want(m.mail("alice@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	_, act := m.data(cleanMsg)
	wantReply(t, "no quarantine", act, 451, "4.3.0 Internal error, try again later")
}

// TestSizeLimit: a message over max_message_bytes is refused 552 at its
// end, and one announced over it at MAIL FROM.
func TestSizeLimit(t *testing.T) {
	h := startHarness(t, "max_message_bytes: 2000\n", nil)
	m := h.connect(t, "127.0.0.5", "", "client.test")
	wantReply(t, "SIZE over the limit", m.mail("a@example.com", "SIZE=5000", ""), 552, "5.3.4 Message size exceeds fixed limit")
	m.abort()
	m.want(m.mail("a@example.com", "", ""), nil)("MAIL", milterlib.ActionContinue)
	m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
	_, act := m.data(cleanMsg + strings.Repeat("0123456789012345678901234567890123456789\n", 100))
	wantReply(t, "big message", act, 552, "5.3.4 Message size exceeds fixed limit")
}

// TestLocalSubmission: a unix-socket or unknown client (Postfix's
// non_smtpd_milters) has no address; its mail is judged all the same.
func TestLocalSubmission(t *testing.T) {
	h := startHarness(t, "", nil)
	for _, family := range []milterlib.ProtoFamily{milterlib.FamilyUnix, milterlib.FamilyUnknown} {
		s, err := h.client(nil).Session(milterlib.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		m := &mta{t: t, s: s, macros: milterlib.NewMacroBag()}
		m.want(s.Conn("localhost", family, 0, "/var/run/local"))("connect", milterlib.ActionContinue)
		m.want(s.Helo("localhost"))("HELO", milterlib.ActionContinue)
		m.want(m.mail("root@example.org", "", ""), nil)("MAIL", milterlib.ActionContinue)
		m.want(m.rcpt("u@example.org"), nil)("RCPT", milterlib.ActionContinue)
		_, act := m.data(gtubeMsg)
		wantReply(t, "GTUBE from a local client", act, 550, "5.7.1 Message rejected as spam")
		s.Close()
	}
}

func countEntries(t *testing.T, h *harness) int {
	t.Helper()
	list, err := h.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}
