package e2e

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

// What crosses the wire, through the built binary: the commands the backend
// receives, byte for byte.

func linesWith(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Envelope addresses: quoted local parts reach the backend quoted,
// Postmaster is accepted without a domain, source routes are refused in
// every spelling, NUL and Unicode lookalikes of a local domain are refused.
func TestWireEnvelope(t *testing.T) {
	g := Start(t, Options{BackendOptions: smtptest.Options{SMTPUTF8: true}})
	c := g.DialFrom("127.0.0.2")
	c.Expect(250, "EHLO client.test")
	c.Expect(250, `MAIL FROM:<"john smith"@example.com>`)
	c.Expect(250, `RCPT TO:<"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org>`)
	c.Expect(250, "RCPT TO:<Postmaster>")
	c.Expect(250, "RCPT TO:<postmaster>")
	for _, bad := range []string{
		"@other.test:x@example.org", "<@other.test:x@example.org>", `<@other.test:"x"@example.org>`,
		"<x\x00@example.org>", "<x@example.org\x00>",
	} {
		if r := c.Cmd("RCPT TO:%s", bad); r.Code/100 != 5 {
			t.Errorf("RCPT TO:%q: %s, want a refusal", bad, r)
		}
	}
	if r := c.Data([]byte(simpleMsg)); r.Code != 250 {
		t.Fatalf("DATA: %s", r)
	}
	c.Expect(250, "MAIL FROM:<a@example.com> SMTPUTF8")
	for _, bad := range []string{"<u@ｅｘａｍｐｌｅ.org>", "<u@example\u3002org>", "<u@exam\u00adple.org>", "<u@exam\u200bple.org>"} {
		if r := c.Cmd("RCPT TO:%s", bad); r.Code != 501 {
			t.Errorf("RCPT TO:%s: %s, want 501", bad, r)
		}
	}
	c.Close()
	lines := g.Backend.CommandLines()
	want := []string{`MAIL FROM:<"john smith"@example.com> BODY=8BITMIME`, "MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8"}
	if got := linesWith(lines, "MAIL"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("backend MAIL lines %q, want %q", got, want)
	}
	wantR := []string{`RCPT TO:<"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org>`, "RCPT TO:<Postmaster>", "RCPT TO:<postmaster>"}
	if got := linesWith(lines, "RCPT"); strings.Join(got, "\n") != strings.Join(wantR, "\n") {
		t.Errorf("backend RCPT lines %q, want %q", got, wantR)
	}
}

// End of data: "\r\r\n.\r\n" ends the message; smuggling forms do not, and
// reach the backend as text with CRLF line ends only.
func TestWireEndOfData(t *testing.T) {
	g := Start(t, Options{})
	c := g.Dial(smtptest.DialOptions{})
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Expect(354, "DATA")
	c.Write([]byte(simpleMsg + "a\n.\nMAIL FROM:<evil@evil.test>\r\nb\r.\rRCPT TO:<v@example.org>\r\nlast\r\r\n.\r\n"))
	if r, err := c.ReadReply(); err != nil || r.Code != 250 {
		t.Fatalf("end of data after a stray CR: %s, %v", r, err)
	}
	c.Expect(250, "NOOP")
	c.Close()
	ms := g.Backend.Wait(1, 10*time.Second)
	if len(ms) != 1 {
		t.Fatalf("backend got %d messages", len(ms))
	}
	d := string(ms[0].Data)
	if !strings.HasSuffix(d, "a\r\n.\r\nMAIL FROM:<evil@evil.test>\r\nb\r\n.\r\nRCPT TO:<v@example.org>\r\nlast\r\n") {
		t.Errorf("backend got %q", d[max(0, len(d)-120):])
	}
	if n := len(linesWith(g.Backend.CommandLines(), "MAIL")); n != 1 {
		t.Errorf("backend got %d MAIL commands", n)
	}
}

// Shutdown deadline: with a backend gone silent after DATA, SIGTERM ends
// the process at limits.shutdown_timeout, and the client hears 451.
func TestWireShutdownDeadline(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"limits": map[string]any{"shutdown_timeout": "2s"}}})
	c := g.Dial(smtptest.DialOptions{})
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<u@example.org>")
	c.Expect(354, "DATA")
	g.Backend.SetDelay(time.Hour)
	c.Write(smtptest.DotStuff([]byte(simpleMsg)))
	if _, ok := g.WaitLog(`msg=relayed|msg=connect`, 10*time.Second); !ok {
		t.Fatal("no connection logged")
	}
	g.Signal(syscall.SIGTERM)
	if r, err := c.ReadReply(); err != nil || r.Code != 451 {
		t.Errorf("transaction at the shutdown deadline: %s, %v; want 451", r, err)
	}
	if code := g.Wait(30 * time.Second); code < 0 {
		t.Fatal("mailguard still running 30s after SIGTERM with shutdown_timeout 2s")
	}
}

// A backend changed by SIGHUP takes every transaction that starts after
// the reload, pooled connections notwithstanding.
func TestWireReloadBackend(t *testing.T) {
	g := Start(t, Options{})
	send := func(c *smtptest.Client) {
		t.Helper()
		if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg)); r.Code != 250 {
			t.Fatalf("send: %s", r)
		}
	}
	old := g.Dial(smtptest.DialOptions{})
	send(old)
	c := g.Dial(smtptest.DialOptions{})
	send(c)
	c.Close()
	next := smtptest.Start(t, smtptest.Options{})
	g.Reconfigure(map[string]any{"backend": next.Addr})
	g.Signal(syscall.SIGHUP)
	if _, ok := g.WaitLog(`msg="configuration reloaded"`, 10*time.Second); !ok {
		t.Fatal("no reload line")
	}
	for range 3 {
		c := g.Dial(smtptest.DialOptions{})
		send(c)
		c.Close()
	}
	old.Expect(250, "RSET")
	old.Expect(250, "MAIL FROM:<a@example.com>")
	old.Expect(250, "RCPT TO:<u@example.org>")
	if r := old.Data([]byte(simpleMsg)); r.Code != 250 {
		t.Fatal(r)
	}
	old.Close()
	if n := g.Backend.Count(); n != 2 {
		t.Errorf("old backend got %d messages, want the 2 from before the reload", n)
	}
	if n := next.Count(); n != 4 {
		t.Errorf("new backend got %d messages, want 4", n)
	}
}

// Postfix as the backend: a quoted sender is accepted, a recipient whose
// quoted local part looks like DSN parameters is one (unknown) recipient,
// not postmaster with NOTIFY=SUCCESS; after refused transactions the kept
// connection takes the next one.
func TestPostfixBehindQuotedAddresses(t *testing.T) {
	g, pf, rec := postfixBehind(t, nil, nil)
	c := g.DialFrom("127.0.0.2")
	c.Expect(250, "EHLO client.test")
	c.Expect(250, `MAIL FROM:<"john smith"@example.com>`)
	r := c.Cmd(`RCPT TO:<"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org>`)
	if r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Errorf("recipient that looks like parameters: %s, want Postfix's 550 5.1.1", r)
	}
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data([]byte(simpleMsg)); r.Code != 250 {
		t.Fatalf("DATA: %s", r)
	}
	// Refused transactions, then one more on the same backend
	// connection (RSET, no second EHLO).
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if r := c.Cmd("RCPT TO:<nobody@example.org>"); r.Code != 550 {
		t.Errorf("unknown recipient: %s", r)
	}
	c.Expect(250, "RSET")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<bob@example.org>")
	if r := c.Data([]byte(simpleMsg + "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")); r.Code/100 != 5 {
		t.Errorf("GTUBE: %s, want a refusal", r)
	}
	c.Expect(250, "MAIL FROM:<a@example.com>")
	c.Expect(250, "RCPT TO:<bob@example.org>")
	if r := c.Data([]byte(simpleMsg)); r.Code != 250 {
		t.Fatalf("after refused transactions: %s", r)
	}
	c.Close()
	if err := pf.Flush(); err != nil {
		t.Fatal(err)
	}
	ms := rec.Wait(2, 60*time.Second)
	if len(ms) != 2 {
		t.Fatalf("Postfix delivered %d messages, want 2 (and no delivery report)", len(ms))
	}
	if ms[0].From != "john smith@example.com" || len(ms[0].Rcpts) != 1 || ms[0].Rcpts[0] != "u@example.org" {
		t.Errorf("Postfix delivered from %q to %q", ms[0].From, ms[0].Rcpts)
	}
	if got := linesWith(rec.CommandLines(), "MAIL"); len(got) == 0 || !strings.HasPrefix(got[0], `MAIL FROM:<"john smith"@example.com>`) {
		t.Errorf("Postfix relayed MAIL lines %q", got)
	}
	// One recipient, refused; nothing delivered to postmaster.
	if _, ok := pf.WaitLog(time.Second, "reject: RCPT", `to=<"postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x"@example.org>`); !ok {
		t.Errorf("Postfix did not refuse the quoted recipient as one address")
	}
	for _, l := range strings.Split(pf.Log(), "\n") {
		if strings.Contains(l, "status=") && strings.Contains(strings.ToLower(l), "postmaster") {
			t.Errorf("Postfix delivered to postmaster: %s", l)
		}
	}
	// One EHLO on the kept connection, RSET between transactions.
	g.Stop()
	if l, ok := pf.WaitLog(10*time.Second, "disconnect from", "rset="); !ok || !strings.Contains(l, " ehlo=1 ") {
		t.Errorf("Postfix session: %q; want one EHLO and RSETs", l)
	}
}

// Long lines: 16 clients at once send messages with 13,000-14,500 octet
// lines; each reads 550 5.6.0 at the end of its data and its session goes
// on. An over-long command line ends the session, and its 500 is read.
func TestWireLongLines(t *testing.T) {
	g := Start(t, Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := g.Dial(smtptest.DialOptions{})
			long := strings.Repeat("spam ", 2600+i*20)
			r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg+long+"\r\n"+long+"\r\n"))
			if r.Code != 550 || r.Enhanced != "5.6.0" {
				t.Errorf("client %d: %s, want 550 5.6.0", i, r)
				return
			}
			c.Expect(250, "RSET")
			c.Expect(250, "NOOP")
			go c.Write([]byte("MAIL FROM:<" + strings.Repeat("x", 100000) + "@example.com>\r\n"))
			if r, err := c.ReadReply(); err != nil || r.Code != 500 {
				t.Errorf("client %d: over-long command: %s, %v; want 500", i, r, err)
			}
		}()
	}
	wg.Wait()
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
}

// The report behind the long-line rule: Python's smtplib, 16 clients at
// once, messages with 13-14k octet lines. Each client must hear 550, never
// a dropped connection (which a sending MTA would retry forever).
func TestWireLongLinesPythonSmtplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (Debian package python3; `make deps` installs it)")
	}
	g := Start(t, Options{})
	host, port, _ := strings.Cut(g.Addr, ":")
	script := `
import smtplib, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
results = [None] * 16
def send(i):
    body = ("spam " * (2600 + 20 * i)) + "\n"
    msg = "From: a@example.com\nTo: u@example.org\nSubject: long\n\n" + body * 3
    try:
        s = smtplib.SMTP(host, port, timeout=60)
        try:
            s.sendmail("a@example.com", ["u@example.org"], msg)
            results[i] = "250"
        finally:
            try:
                s.quit()
            except Exception:
                pass
    except smtplib.SMTPDataError as e:
        results[i] = str(e.smtp_code)
    except Exception as e:
        results[i] = type(e).__name__
threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
for th in threads: th.start()
for th in threads: th.join()
print(" ".join(results))
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != 16 {
		t.Fatalf("python3 said %q", out)
	}
	for i, r := range got {
		if r != "550" {
			t.Errorf("client %d: %s, want 550", i, r)
		}
	}
}
