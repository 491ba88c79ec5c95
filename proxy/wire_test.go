package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
	"mailguard/verify"
)

// Tests of what crosses the wire in both directions: the client's commands
// as the backend receives them, byte for byte.

// backendPathRe is a MAIL or RCPT line as the gateway may write it: one
// path, then only the parameters the gateway itself adds.
var backendPathRe = regexp.MustCompile(`^(MAIL FROM|RCPT TO):<("([^"\\]|\\.)*"@[^ >]+|[^ "<>]*)>( BODY=8BITMIME| SIZE=[0-9]+| SMTPUTF8)*$`)

// checkBackendLines fails unless every command line the backend got is
// well-formed: no bare CR or LF, no NUL, and MAIL/RCPT lines carry one path
// and only the gateway's own parameters.
func checkBackendLines(t *testing.T, be *smtptest.Server) []string {
	t.Helper()
	lines := be.CommandLines()
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n\x00") {
			t.Errorf("backend got a command line with CR, LF or NUL: %q", l)
		}
		up := strings.ToUpper(l)
		if (strings.HasPrefix(up, "MAIL") || strings.HasPrefix(up, "RCPT")) && !backendPathRe.MatchString(l) {
			t.Errorf("backend got a malformed or injected command: %q", l)
		}
	}
	return lines
}

func linesWith(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Item: envelope addresses reach the backend as the client wrote them,
// their local parts quoted as RFC 5321 section 4.1.2 requires.
func TestEnvelopeQuotedLocalParts(t *testing.T) {
	tests := []struct {
		name       string
		from, rcpt string // as the client writes them, without brackets
		wantFrom   string // the backend's MAIL line up to its parameters
		wantRcpt   string
	}{
		{"space in sender", `"john smith"@good.test`, "u@example.org", `MAIL FROM:<"john smith"@good.test>`, "RCPT TO:<u@example.org>"},
		{"parameters in recipient", "a@good.test", `"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org`,
			"MAIL FROM:<a@good.test>", `RCPT TO:<"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org>`},
		{"parameters in sender", `"x> SIZE=1 RET=FULL ENVID=x"@good.test`, "u@example.org", `MAIL FROM:<"x> SIZE=1 RET=FULL ENVID=x"@good.test>`, "RCPT TO:<u@example.org>"},
		{"escaped quote", `"a\"b"@good.test`, `"c\\d"@example.org`, `MAIL FROM:<"a\"b"@good.test>`, `RCPT TO:<"c\\d"@example.org>`},
		{"quoted pair of a plain character", `"a\ b"@good.test`, `"\x"@example.org`, `MAIL FROM:<"a b"@good.test>`, "RCPT TO:<x@example.org>"},
		{"needless quotes", `"john.smith"@good.test`, `"u"@example.org`, "MAIL FROM:<john.smith@good.test>", "RCPT TO:<u@example.org>"},
		{"dots a dot-string cannot hold", `".a"@good.test`, `"u..v"@example.org`, `MAIL FROM:<".a"@good.test>`, `RCPT TO:<"u..v"@example.org>`},
		{"trailing dot and space", `"a."@good.test`, `"u "@example.org`, `MAIL FROM:<"a."@good.test>`, `RCPT TO:<"u "@example.org>`},
		{"angle bracket and colon", `"<a>"@good.test`, `"u:v;w,x"@example.org`, `MAIL FROM:<"<a>"@good.test>`, `RCPT TO:<"u:v;w,x"@example.org>`},
		{"at sign", `"a@b"@good.test`, `"u@v"@example.org`, `MAIL FROM:<"a@b"@good.test>`, `RCPT TO:<"u@v"@example.org>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, Config{}, smtptest.Options{})
			c := tp.dial(t)
			if r := c.Send(tc.from, []string{tc.rcpt}, []byte(plainMsg)); r.Code != 250 {
				t.Fatalf("send: %s", r)
			}
			c.Close()
			lines := checkBackendLines(t, tp.be)
			mail, rcpt := linesWith(lines, "MAIL"), linesWith(lines, "RCPT")
			if len(mail) != 1 || !strings.HasPrefix(mail[0], tc.wantFrom+" ") && mail[0] != tc.wantFrom {
				t.Errorf("backend MAIL lines %q; want %q", mail, tc.wantFrom)
			}
			if len(rcpt) != 1 || rcpt[0] != tc.wantRcpt {
				t.Errorf("backend RCPT lines %q; want %q", rcpt, tc.wantRcpt)
			}
		})
	}
}

// relayChain is the test chain with relay control for example.org.
func relayChain(t *testing.T) *filters.Chain {
	r, err := verify.NewRelay(verify.RelayConfig{Domains: []string{"example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	return testChain(r)
}

// Item: RCPT TO:<Postmaster> in every case, with and without a domain, is
// accepted (RFC 5321 section 4.5.1) and relayed as written.
func TestPostmasterRecipient(t *testing.T) {
	tp := startProxy(t, Config{Chain: relayChain(t)}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@good.test>")
	for _, rcpt := range []string{"<Postmaster>", "<postmaster>", "<POSTMASTER>", "<pOsTmAsTeR>", "<Postmaster@example.org>", "<postmaster@Example.ORG>", "postmaster", "POSTMASTER"} {
		if r := c.Cmd("RCPT TO:%s", rcpt); r.Code != 250 {
			t.Errorf("RCPT TO:%s: %s", rcpt, r)
		}
	}
	// Postmaster elsewhere is a relay attempt like any other.
	if r := c.Cmd("RCPT TO:<postmaster@elsewhere.test>"); r.Code != 554 {
		t.Errorf("RCPT TO:<postmaster@elsewhere.test>: %s, want 554", r)
	}
	for _, rcpt := range []string{"<postmaster >", "<postmasters>", "<post master>", "<abuse>", "postmasters", "<postmaster"} {
		if r := c.Cmd("RCPT TO:%s", rcpt); r.Code/100 != 5 {
			t.Errorf("RCPT TO:%s: %s, want a refusal", rcpt, r)
		}
	}
	if r := c.Data([]byte(plainMsg)); r.Code != 250 {
		t.Fatalf("DATA: %s", r)
	}
	c.Expect(250, "RSET")
	if r := c.Cmd("MAIL FROM:<postmaster>"); r.Code != 501 {
		t.Errorf("MAIL FROM:<postmaster>: %s, want 501", r)
	}
	c.Close()
	rcpts := linesWith(checkBackendLines(t, tp.be), "RCPT")
	want := []string{"RCPT TO:<Postmaster>", "RCPT TO:<postmaster>", "RCPT TO:<POSTMASTER>", "RCPT TO:<pOsTmAsTeR>", "RCPT TO:<Postmaster@example.org>", "RCPT TO:<postmaster@Example.ORG>", "RCPT TO:<postmaster>", "RCPT TO:<POSTMASTER>"}
	if fmt.Sprint(rcpts) != fmt.Sprint(want) {
		t.Errorf("backend got %q, want %q", rcpts, want)
	}
}

// Item: a source route is a relay trick in every spelling, in clear text
// and under TLS.
func TestSourceRoutesRefused(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) { testSourceRoutes(t, tlsOn) })
	}
}

func testSourceRoutes(t *testing.T, tlsOn bool) {
	cfg := Config{Chain: relayChain(t)}
	if tlsOn {
		cfg.TLS = testTLS(t)
	}
	tp := startProxy(t, cfg, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	if tlsOn {
		c.StartTLS()
		c.Expect(250, "EHLO client.test")
	}
	c.Expect(250, "MAIL FROM:<a@good.test>")
	for _, rcpt := range []string{
		"@other.test:x@example.org",
		"<@other.test:x@example.org>",
		"<@other.test,@third.test:x@example.org>",
		`<@other.test:"x"@example.org>`,
		`@other.test:"x"@example.org`,
		"<@example.org:x@example.org>",
		"<@[192.0.2.1]:x@example.org>",
	} {
		r := c.Cmd("RCPT TO:%s", rcpt)
		if r.Code != 554 || r.Enhanced != "5.7.1" {
			t.Errorf("RCPT TO:%s: %s, want 554 5.7.1", rcpt, r)
		}
	}
	c.Expect(250, "RCPT TO:<x@example.org>")
	c.Close()
	if rcpts := linesWith(checkBackendLines(t, tp.be), "RCPT"); len(rcpts) != 1 || rcpts[0] != "RCPT TO:<x@example.org>" {
		t.Errorf("backend got %q", rcpts)
	}
}

// Item: what was checked is what is sent: NUL and other controls anywhere in
// an address, and Unicode spellings of a local domain, are refused; an
// internationalised domain goes to the backend in the form that was checked.
func TestEnvelopeAddressForms(t *testing.T) {
	tests := []struct {
		name   string
		mail   string // the whole MAIL command's argument
		rcpt   string
		code   int // reply to the first of MAIL, RCPT that is not 250
		wantBE string
	}{
		{"NUL in sender local part", "<a\x00b@good.test>", "", 501, ""},
		{"NUL at the start of the sender", "<\x00a@good.test>", "", 501, ""},
		{"NUL in sender domain", "<a@good.test\x00>", "", 501, ""},
		{"NUL in quoted sender", "<\"a\x00b\"@good.test>", "", 501, ""},
		{"NUL in recipient", "<a@good.test>", "<u\x00@example.org>", 501, ""},
		{"NUL in recipient domain", "<a@good.test>", "<u@exam\x00ple.org>", 501, ""},
		{"NUL after postmaster", "<a@good.test>", "<postmaster\x00>", 501, ""},
		{"bare CR in recipient", "<a@good.test>", "<u\rv@example.org>", 501, ""},
		{"TAB in quoted recipient", "<a@good.test>", "<\"u\tv\"@example.org>", 501, ""},
		{"DEL in recipient", "<a@good.test>", "<u\x7f@example.org>", 501, ""},
		{"quote in domain", "<a@good.test>", "<u@exa\"mple.org>", 501, ""},
		{"fullwidth local domain", "<a@good.test> SMTPUTF8", "<u@ｅｘａｍｐｌｅ.org>", 501, ""},
		{"ideographic full stop", "<a@good.test> SMTPUTF8", "<u@example\u3002org>", 501, ""},
		{"fullwidth full stop", "<a@good.test> SMTPUTF8", "<u@example\uff0eorg>", 501, ""},
		{"soft hyphen", "<a@good.test> SMTPUTF8", "<u@exam\u00adple.org>", 501, ""},
		{"zero-width space", "<a@good.test> SMTPUTF8", "<u@exam\u200bple.org>", 501, ""},
		{"Kelvin sign", "<a@good.test> SMTPUTF8", "<u@\u212a.example.org>", 501, ""},
		{"Unicode without SMTPUTF8", "<a@good.test>", "<u@exam\u00adple.org>", 553, ""},
		{"Unicode sender without SMTPUTF8", "<ä@good.test>", "", 553, ""},
		{"IDN recipient relayed as checked", "<a@good.test> SMTPUTF8", "<u@bücher.example.org>", 554, ""},
		{"IDN sender relayed as checked", "<a@bücher.test> SMTPUTF8", "<u@example.org>", 250, "MAIL FROM:<a@xn--bcher-kva.test> BODY=8BITMIME SMTPUTF8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, Config{Chain: relayChain(t)}, smtptest.Options{SMTPUTF8: true})
			c := tp.dial(t)
			c.Expect(250, "EHLO client.test")
			r := c.Cmd("MAIL FROM:%s", tc.mail)
			if r.Code == 250 && tc.rcpt != "" {
				r = c.Cmd("RCPT TO:%s", tc.rcpt)
			}
			if r.Code != tc.code {
				t.Fatalf("got %s, want %d", r, tc.code)
			}
			if r.Code != 250 && !strings.Contains(r.Text, "Was expecting") {
				// go-smtp's own syntax replies have no queue id.
				endsWithID(t, r)
			}
			c.Close()
			lines := checkBackendLines(t, tp.be)
			if tc.wantBE != "" {
				if m := linesWith(lines, "MAIL"); len(m) != 1 || m[0] != tc.wantBE {
					t.Errorf("backend got %q, want %q", m, tc.wantBE)
				}
			}
			for _, l := range lines {
				if tc.code != 250 && strings.Contains(l, "u@") || strings.Contains(l, "\x00") {
					t.Errorf("refused address reached the backend: %q", l)
				}
			}
		})
	}
}

// Item: only CRLF.CRLF ends the data, whatever CRs and LFs stand before the
// dot. Every combination of up to four CRs and LFs before ".\r\n" is tried;
// when it is not the end, the client's next lines (a smuggled transaction)
// are message text, and the backend gets them as such, with every line end
// CRLF so that no reading of bare CR or LF can end the data early there.
func TestEndOfDataOnlyAtCRLFDotCRLF(t *testing.T) {
	var seqs []string
	var gen func(string)
	gen = func(s string) {
		if s != "" {
			seqs = append(seqs, s)
		}
		if len(s) < 4 {
			gen(s + "\r")
			gen(s + "\n")
		}
	}
	gen("")
	tp := startProxy(t, Config{}, smtptest.Options{})
	const smuggled = "MAIL FROM:<evil@evil.test>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nFrom: evil@evil.test\r\n\r\nsmuggled\r\n"
	for i, seq := range seqs {
		c := tp.dial(t)
		c.Expect(250, "EHLO client.test")
		c.Expect(250, "MAIL FROM:<a@good.test>")
		c.Expect(250, "RCPT TO:<u@example.org>")
		c.Expect(354, "DATA")
		ends := strings.HasSuffix(seq, "\r\n")
		msg := plainMsg + "last" + seq + ".\r\n"
		if !ends {
			msg += smuggled + ".\r\n"
		}
		c.Write([]byte(msg))
		r, err := c.ReadReply()
		if err != nil || r.Code != 250 {
			t.Fatalf("%q: reply %s, %v", seq, r, err)
		}
		// Exactly one reply: the next command gets its own.
		c.Expect(250, "NOOP")
		c.Close()
		ms := tp.be.Wait(i+1, 5e9)
		if len(ms) != i+1 {
			t.Fatalf("%q: backend has %d messages, want %d", seq, len(ms), i+1)
		}
		got := ms[i].Data
		body := got[bytes.Index(got, []byte("\r\n\r\nbody\r\n"))+4:]
		// The message as judged: bare CRs and LFs became line ends, runs
		// of CRs before an LF joined it.
		want := "body\r\nlast" + normalizeEnds(seq)
		if !ends {
			// The dot did not start a line: it is text.
			want += ".\r\n" + smuggled
		}
		if string(body) != want {
			t.Errorf("%q: backend got body %q, want %q", seq, body, want)
		}
		if err := onlyCRLF(got); err != nil {
			t.Errorf("%q: %v", seq, err)
		}
	}
	lines := checkBackendLines(t, tp.be)
	if n := len(linesWith(lines, "MAIL")); n != len(seqs) {
		t.Errorf("backend got %d MAIL commands for %d messages", n, len(seqs))
	}
	for _, l := range lines {
		if strings.Contains(l, "evil") {
			t.Errorf("smuggled command reached the backend as a command: %q", l)
		}
	}
}

func normalizeEnds(s string) string {
	var b strings.Builder
	cr := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			cr = true
			continue
		case '\n':
			b.WriteString("\r\n")
		}
		cr = false
	}
	if cr {
		b.WriteString("\r\n")
	}
	return b.String()
}

func onlyCRLF(b []byte) error {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') || c == '\n' && (i == 0 || b[i-1] != '\r') {
			return fmt.Errorf("bare CR or LF at %d: %q", i, b[max(0, i-10):min(len(b), i+10)])
		}
	}
	return nil
}

// Item: a message line over max_line_length is read to the end of the data
// and refused there with 550 5.6.0; the session goes on. Under load, every
// client hears its reply.
func TestDataLineTooLong(t *testing.T) {
	tp := startProxy(t, Config{MaxLineLength: 1000}, smtptest.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tp.dial(t)
			long := strings.Repeat("x", 13000+i*100)
			r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg+long+"\r\n"+long+"\r\n"))
			if r.Code != 550 || r.Enhanced != "5.6.0" {
				t.Errorf("message line over max_line_length: %s", r)
				return
			}
			endsWithID(t, r)
			c.Expect(250, "RSET")
			// Exactly the limit passes.
			if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(plainMsg+strings.Repeat("y", 1000)+"\r\n")); r.Code != 250 {
				t.Errorf("line of exactly max_line_length: %s", r)
			}
			c.Close()
		}()
	}
	wg.Wait()
	if n := tp.be.Count(); n != 16 {
		t.Errorf("backend got %d messages, want the 16 short ones", n)
	}
}

// Item: an over-long command line ends the session, and the client reads
// the reply every time although it is still sending.
func TestCommandLineTooLong(t *testing.T) {
	tp := startProxy(t, Config{MaxLineLength: 1000}, smtptest.Options{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tp.dial(t)
			c.Expect(250, "EHLO client.test")
			go c.Write([]byte("MAIL FROM:<" + strings.Repeat("x", 200000) + "@good.test>\r\n"))
			r, err := c.ReadReply()
			if err != nil || r.Code != 500 {
				t.Errorf("over-long command: %s, %v; want the 500 read", r, err)
			}
		}()
	}
	wg.Wait()
}

// Item: after a refused transaction the kept backend connection is reset
// with RSET only; a backend that refuses a repeated EHLO still takes the
// next transaction, in the same session and in the next one (pooled).
func TestBackendRefusingRepeatedEHLO(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{RefuseRepeatedHelo: true})
	c := tp.dial(t)
	if r := c.Send("a@good.test", []string{"u@example.org"}, []byte(plainMsg+"REJECTWORD\r\n")); r.Code != 550 {
		t.Fatalf("spam: %s", r)
	}
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@good.test>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data([]byte(plainMsg)); r.Code != 250 {
		t.Fatalf("second transaction: %s", r)
	}
	c.Expect(250, "MAIL FROM:<a@good.test>")
	// Refused at RCPT by the chain, then abandoned.
	if r := c.Cmd("RCPT TO:<relay@elsewhere.test>"); r.Code/100 != 5 {
		t.Fatalf("refused recipient: %s", r)
	}
	c.Expect(250, "RSET")
	c.Close()
	waitDisconnects(t, tp, 1)
	// The next client gets the pooled connection.
	c = tp.dial(t)
	if r := c.Send("b@good.test", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Fatalf("next session: %s", r)
	}
	c.Close()
	lines := checkBackendLines(t, tp.be)
	if n := len(linesWith(lines, "EHLO")); n != tp.be.Connections() {
		t.Errorf("backend got %d EHLO on %d connections: %q", n, tp.be.Connections(), lines)
	}
	if tp.be.Count() != 2 {
		t.Errorf("backend got %d messages, want 2", tp.be.Count())
	}
}

func waitDisconnects(t *testing.T, tp *testProxy, n int) {
	t.Helper()
	for range 1000 {
		if strings.Count(tp.logs.String(), "msg=disconnect") >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no disconnect logged")
}

// Item: at the shutdown deadline, transactions still in progress get 451
// and Shutdown returns: one waiting on a backend gone silent after DATA,
// one whose client is still sending its message.
func TestShutdownDeadlineCutsTransactions(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	silent := tp.dial(t)
	silent.Expect(250, "EHLO client.test")
	silent.Expect(250, "MAIL FROM:<a@good.test>")
	silent.Expect(250, "RCPT TO:<u@example.org>")
	silent.Expect(354, "DATA")
	slow := tp.dial(t)
	slow.Expect(250, "EHLO client.test")
	slow.Expect(250, "MAIL FROM:<b@good.test>")
	slow.Expect(250, "RCPT TO:<u@example.org>")
	slow.Expect(354, "DATA")
	slow.Write([]byte("Subject: half\r\n"))
	// The backend answers nothing from now on.
	tp.be.SetDelay(time.Hour)
	silent.Write(smtptest.DotStuff([]byte(plainMsg)))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tp.Shutdown(ctx) }()
	for _, c := range []*smtptest.Client{silent, slow} {
		r, err := c.ReadReply()
		if err != nil || r.Code != 451 {
			t.Errorf("transaction in progress at the deadline: %s, %v; want 451", r, err)
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Shutdown did not return after its deadline")
	}
}

// Item: a backend changed by a reload takes every transaction that starts
// after it: new connections, pooled connections, and the next transaction
// of connections from before; a connection to the old backend returned to
// the pool after the reload is never reused.
func TestReloadedBackendHonouredAtOnce(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	oldBE := tp.be
	newBE := smtptest.Start(t, smtptest.Options{})
	// A pooled connection to the old backend.
	c := tp.dial(t)
	if r := c.Send("a@good.test", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	c.Close()
	waitDisconnects(t, tp, 1)
	// A session from before the reload, idle between transactions, and
	// one in the middle of a transaction.
	idle := tp.dial(t)
	if r := idle.Send("a@good.test", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	busy := tp.dial(t)
	busy.Expect(250, "EHLO client.test")
	busy.Expect(250, "MAIL FROM:<a@good.test>")
	busy.Expect(250, "RCPT TO:<u@example.org>")

	cfg := Config{Backend: newBE.Addr, Hostname: "gw.test", Chain: testChain(), SpoolDir: t.TempDir(), Log: tp.log}
	if err := tp.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	// The transaction in progress finishes on the old backend, and its
	// connection is not kept for others.
	if r := busy.Data([]byte(plainMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	busy.Close()
	waitDisconnects(t, tp, 2)
	if n := oldBE.Count(); n != 3 {
		t.Fatalf("old backend got %d messages before and during the reload, want 3", n)
	}
	for range 5 {
		c := tp.dial(t)
		if r := c.Send("b@good.test", []string{"u@example.org"}, []byte(plainMsg)); r.Code != 250 {
			t.Fatal(r)
		}
		c.Close()
	}
	idle.Expect(250, "MAIL FROM:<c@good.test>")
	idle.Expect(250, "RCPT TO:<u@example.org>")
	if r := idle.Data([]byte(plainMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	idle.Close()
	if n := oldBE.Count(); n != 3 {
		t.Errorf("old backend got %d messages after the reload", n-3)
	}
	if n := newBE.Count(); n != 6 {
		t.Errorf("new backend got %d messages, want 6", n)
	}
}

// A refusal naming a long address stays within RFC 5321's 512-octet reply
// line, and still ends with the queue id.
func TestLongAddressReplyShortened(t *testing.T) {
	tp := startProxy(t, Config{Chain: relayChain(t)}, smtptest.Options{SMTPUTF8: true})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@good.test> SMTPUTF8")
	for _, rcpt := range []string{strings.Repeat("x", 900) + "@elsewhere.test", strings.Repeat("ü", 450) + "@elsewhere.test"} {
		r := c.Cmd("RCPT TO:<%s>", rcpt)
		if r.Code != 554 {
			t.Fatalf("relay attempt: %s", r)
		}
		if n := len(r.String()) + 2; n > 512 {
			t.Errorf("reply line of %d octets", n)
		}
		endsWithID(t, r)
	}
}

// BDAT carries no end marker: an end-of-data line or bare CRs and LFs in a
// chunk are message text, and reach the backend with CRLF line ends, the
// dot line stuffed.
func TestBDATSmugglingFormsAreText(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@good.test>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	chunk := plainMsg + "a\r\n.\r\nMAIL FROM:<evil@evil.test>\r\nb\n.\nc\r.\rd\r\r\n.\r\n"
	c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk), chunk)))
	if r, err := c.ReadReply(); err != nil || r.Code != 250 {
		t.Fatalf("BDAT: %s, %v", r, err)
	}
	c.Expect(250, "NOOP")
	c.Close()
	ms := tp.be.Wait(1, 5e9)
	if len(ms) != 1 {
		t.Fatalf("backend got %d messages", len(ms))
	}
	want := "body\r\na\r\n.\r\nMAIL FROM:<evil@evil.test>\r\nb\r\n.\r\nc\r\n.\r\nd\r\n.\r\n"
	if got := string(ms[0].Data); !strings.HasSuffix(got, want) {
		t.Errorf("backend got %q, want it to end %q", got, want)
	}
	if err := onlyCRLF(tp.be.Raw()[len(tp.be.Raw())-1]); err != nil {
		t.Error(err)
	}
	if n := len(linesWith(checkBackendLines(t, tp.be), "MAIL")); n != 1 {
		t.Errorf("backend got %d MAIL commands", n)
	}
}

// The Received: field names a single recipient as it is written on the
// wire, quoted where needed.
func TestReceivedForQuotedRecipient(t *testing.T) {
	tp := startProxy(t, Config{}, smtptest.Options{})
	c := tp.dial(t)
	if r := c.Send("a@good.test", []string{`"john smith"@example.org`}, []byte(plainMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	c.Close()
	ms := tp.be.Wait(1, 5e9)
	if len(ms) != 1 || !strings.Contains(string(ms[0].Data), "\tfor <\"john smith\"@example.org>;") {
		t.Errorf("Received: %q", ms[0].Data[:200])
	}
}

// A second MAIL FROM inside a transaction is refused with 503 5.5.1, as
// Postfix refuses it, and the transaction begun goes on: its recipients
// are never carried into another sender's message, and DATA delivers
// what was begun. RSET ends the transaction, and MAIL FROM is taken again.
func TestNestedMail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rcpts []string // RCPT TO lines before the second MAIL FROM
		want  []string // the recipients DATA delivers to, none for a 503
	}{
		{"after MAIL FROM", nil, nil},
		{"after a recipient", []string{"u@example.org"}, []string{"u@example.org"}},
		{"after two recipients", []string{"u@example.org", "v@example.org"}, []string{"u@example.org", "v@example.org"}},
		{"after a refused recipient", []string{"relay@elsewhere.test"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, Config{}, smtptest.Options{})
			c := tp.dial(t)
			c.Expect(250, "EHLO client.test")
			c.Expect(250, "MAIL FROM:<a@good.test>")
			for _, r := range tc.rcpts {
				c.Cmd("RCPT TO:<%s>", r)
			}
			for _, cmd := range []string{"MAIL FROM:<b@good.test>", "mail from:<b@good.test> SIZE=10", "MAIL FROM:<>"} {
				if r := c.Cmd("%s", cmd); r.Code != 503 || r.Enhanced != "5.5.1" {
					t.Errorf("%s inside a transaction: %s, want 503 5.5.1", cmd, r)
				}
			}
			if tc.want == nil {
				if r := c.Cmd("DATA"); r.Code/100 != 5 {
					t.Errorf("DATA without a recipient: %s, want a refusal", r)
				}
			} else if r := c.Data([]byte(plainMsg)); r.Code != 250 {
				t.Fatalf("DATA of the transaction begun: %s", r)
			}
			c.Expect(250, "RSET")
			if r := c.Send("c@good.test", []string{"w@example.org"}, []byte(plainMsg)); r.Code != 250 {
				t.Fatalf("the next transaction: %s", r)
			}
			msgs := tp.be.Messages()
			var want []smtptest.Message
			if tc.want != nil {
				want = append(want, smtptest.Message{From: "a@good.test", Rcpts: tc.want})
			}
			want = append(want, smtptest.Message{From: "c@good.test", Rcpts: []string{"w@example.org"}})
			if len(msgs) != len(want) {
				t.Fatalf("backend got %d messages, want %d", len(msgs), len(want))
			}
			for i, m := range msgs {
				if m.From != want[i].From || !slices.Equal(m.Rcpts, want[i].Rcpts) {
					t.Errorf("message %d: from <%s> to %v, want <%s> to %v", i, m.From, m.Rcpts, want[i].From, want[i].Rcpts)
				}
			}
		})
	}
}
