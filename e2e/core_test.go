package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

const simpleMsg = "From: a@example.com\r\nTo: u@example.org\r\nSubject: hello\r\nDate: Fri, 27 Nov 2026 04:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello.\r\n"

// sent runs a transaction that must be relayed and returns the backend's
// copy and the queue id.
func sent(t *testing.T, g *Gateway, c *smtptest.Client, from string, rcpts []string, msg []byte) (smtptest.Message, string) {
	t.Helper()
	before := g.Backend.Count()
	r := c.Send(from, rcpts, msg)
	if r.Code != 250 {
		t.Fatalf("message not accepted: %s", r)
	}
	m := regexp.MustCompile(`queued as ([0-9A-F]{10,12})`).FindStringSubmatch(r.Text)
	if m == nil {
		t.Fatalf("250 without a queue id: %s", r)
	}
	got := g.Backend.Wait(before+1, 10*time.Second)
	if len(got) <= before {
		t.Fatalf("backend has %d messages after a 250", len(got))
	}
	return got[before], m[1]
}

// splitTopAt separates everything the gateway added at the top (Received:
// first, then the chain's fields) from the original message, which starts
// with the line firstLine.
func splitTopAt(t *testing.T, data []byte, firstLine string) (received string, added []string, rest []byte) {
	t.Helper()
	fields, rest := topFields(t, data, func(line string) bool { return line == firstLine })
	return fields[0], fields[1:], rest
}

// topFields splits data's header fields from the top until original says
// a field's first line starts the original message. Continuation lines are
// joined with "\n".
func topFields(t *testing.T, data []byte, original func(line string) bool) ([]string, []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("Received: ")) {
		t.Fatalf("relayed message does not start with Received:\n%q", data[:min(len(data), 200)])
	}
	var fields []string
	i := 0
	for {
		j := bytes.Index(data[i:], []byte("\r\n"))
		if j < 0 {
			t.Fatalf("original message not found in\n%q", data[:min(len(data), 2000)])
		}
		line := string(data[i : i+j])
		switch {
		case i > 0 && (strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ")):
			fields[len(fields)-1] += "\n" + line
		case i > 0 && original(line):
			return fields, data[i:]
		default:
			fields = append(fields, line)
		}
		i += j + 2
	}
}

func TestRelayByteExact(t *testing.T) {
	g := Start(t, Options{})
	c := g.DialFrom("127.0.0.2")
	original := "X-Spam-Flag: YES\r\n" +
		"X-Spam-Status: No, score=-50.0 required=5.0 tests=FORGED\r\n" +
		"From: a@example.com\r\n" +
		"To: u@example.org\r\n" +
		"Subject: caf\xc3\xa9 8-bit header\r\n" +
		"Date: Fri, 27 Nov 2026 04:00:00 +0000\r\n" +
		"Message-ID: <1@example.com>\r\n" +
		"X-Spam-Level: *****\r\n" +
		"\r\n" +
		".\r\n" +
		"..\r\n" +
		".leading dot\r\n" +
		"tab\tand trailing space \r\n" +
		"8-bit body: \xe9\xe8\xff\r\n" +
		"X-Spam-Flag: YES (in the body: left alone)\r\n" +
		"bare LF\n" +
		"last line without CRLF"
	m, qid := sent(t, g, c, "a@example.com", []string{"u@example.org"}, []byte(original))
	received, added, rest := splitTopAt(t, m.Data, "From: a@example.com")

	wantRcv := regexp.MustCompile(`^Received: from client\.test \(client2\.example\.com \[127\.0\.0\.2\]\)\n\tby mx\.test \(mailguard\) with ESMTP id ` + qid +
		`\n\tfor <u@example\.org>; \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(\w+\)$`)
	if !wantRcv.MatchString(received) {
		t.Errorf("Received:\n%s\ndoes not match\n%s", received, wantRcv)
	}
	if len(added) == 0 || !strings.HasPrefix(added[0], "X-Spam-Status: No, score=") {
		t.Errorf("gateway's own headers: %q", added)
	}
	if n := strings.Count(strings.Join(added, "\n"), "X-Spam-Status:"); n != 1 {
		t.Errorf("%d X-Spam-Status fields at the top: %q", n, added)
	}
	for _, a := range added {
		if strings.Contains(a, "FORGED") || strings.Contains(a, "*****") {
			t.Errorf("a forged X-Spam field survived: %q", a)
		}
	}
	// Everything else byte for byte; SMTP carries lines ending in CRLF, so
	// the bare LF and the unterminated last line arrive with CRLF.
	want := strings.Replace(original[strings.Index(original, "From: "):], "bare LF\n", "bare LF\r\n", 1) + "\r\n"
	want = strings.Replace(want, "X-Spam-Level: *****\r\n", "", 1)
	if string(rest) != want {
		t.Errorf("relayed original:\n%q\nwant\n%q", rest, want)
	}
	if m.From != "a@example.com" || len(m.Rcpts) != 1 || m.Rcpts[0] != "u@example.org" {
		t.Errorf("backend envelope: %+v", m)
	}
	if _, ok := g.WaitLog(`msg=relayed .*queue_id=`+qid, 5*time.Second); !ok {
		t.Errorf("no relayed line with the queue id in the log")
	}
}

func TestRelayLargeMessage(t *testing.T) {
	g := Start(t, Options{})
	msg := bigMessage(20 << 20)
	c := g.DialFrom("127.0.0.1")
	m, _ := sent(t, g, c, "a@example.com", []string{"u@example.org"}, msg)
	_, _, rest := splitTopAt(t, m.Data, "From: a@example.com")
	if sha256.Sum256(rest) != sha256.Sum256(msg) {
		t.Errorf("20 MB message changed on the way: %d bytes in, %d out", len(msg), len(rest))
	}
}

// bigMessage is a message of about n bytes with 76-octet lines of random
// 8-bit bytes (no CR, LF or NUL) and dot-led lines.
func bigMessage(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.Grow(n + 1000)
	b.WriteString("From: a@example.com\r\nTo: u@example.org\r\nSubject: big\r\nDate: Fri, 27 Nov 2026 04:00:00 +0000\r\nMessage-ID: <big@example.com>\r\n\r\n")
	line := make([]byte, 76)
	for b.Len() < n {
		for i := range line {
			c := byte(r.IntN(254) + 1)
			if c == '\r' || c == '\n' {
				c = 'x'
			}
			line[i] = c
		}
		if r.IntN(10) == 0 {
			line[0] = '.'
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// TestRSSFlat relays 1 MB and 20 MB messages through fresh gateways and
// compares their peak resident memory (VmHWM): the spool keeps big messages
// on disk, so the peak must not follow the message size.
func TestRSSFlat(t *testing.T) {
	hwm := map[int]int64{}
	for _, size := range []int{1 << 20, 20 << 20} {
		g := Start(t, Options{BackendOptions: smtptest.Options{Discard: true}})
		msg := bigMessage(size)
		c := g.DialFrom("127.0.0.1")
		if r := c.Send("a@example.com", []string{"u@example.org"}, msg); r.Code != 250 {
			t.Fatalf("%d-byte message: %s", size, r)
		}
		v, err := g.ProcStatus("VmHWM")
		if err != nil {
			t.Skipf("cannot read peak RSS: %v", err)
		}
		hwm[size] = v
		g.Stop()
	}
	t.Logf("gateway peak RSS (VmHWM): 1 MB message %d kB, 20 MB message %d kB", hwm[1<<20], hwm[20<<20])
	// 19 MB more message may cost a few MB of buffers and GC slack, never
	// the message itself.
	if hwm[20<<20] > hwm[1<<20]+8*1024 {
		t.Errorf("peak RSS grows with the message: %d kB for 1 MB, %d kB for 20 MB", hwm[1<<20], hwm[20<<20])
	}
}

func TestWireRefusals(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{
		"max_message_bytes": 20000,
		"max_recipients":    3,
	}})
	g.Backend.RefuseRcpt("gone@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "<gone@example.org>: Recipient address rejected: User unknown"})
	g.Backend.RefuseRcpt("full@example.org", filters.Reply{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full"})

	type step struct {
		cmd  string
		code int
		enh  string
		text string // substring
	}
	tests := []struct {
		name   string
		source string
		steps  []step
	}{
		{"relay denied to a foreign domain", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<x@example.net>", 554, "5.7.1", "Relay access denied"},
		}},
		{"a local domain from outside is fine", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<u@example.org>", 250, "", ""},
		}},
		{"relay networks may relay", "127.0.0.1", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<x@example.net>", 250, "", ""},
		}},
		{"relay trick: percent hack", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<x%example.net@example.org>", 554, "5.7.1", "Relay access denied"},
		}},
		{"relay trick: source route", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<@example.org:x@example.net>", 554, "5.7.1", "Relay access denied"},
		}},
		{"relay trick: quoted local part", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{`RCPT TO:<"x@example.net"@example.org>`, 554, "5.7.1", "Relay access denied"},
		}},
		{"relay trick: bang path", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<example.net!x@example.org>", 554, "5.7.1", "Relay access denied"},
		}},
		{"backend refuses a recipient: its 5xx passed on, a 4xx as 451 4.4.1", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<gone@example.org>", 550, "5.1.1", "<gone@example.org>: Recipient address rejected: User unknown"},
			{"RCPT TO:<full@example.org>", 451, "4.4.1", "backend said: 452 4.2.2 Mailbox full"},
			{"RCPT TO:<u@example.org>", 250, "", ""},
		}},
		{"too many recipients", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com>", 250, "", ""},
			{"RCPT TO:<a@example.org>", 250, "", ""},
			{"RCPT TO:<b@example.org>", 250, "", ""},
			{"RCPT TO:<c@example.org>", 250, "", ""},
			{"RCPT TO:<d@example.org>", 452, "4.5.3", "Too many recipients"},
		}},
		{"declared size over the limit", "127.0.0.2", []step{
			{"MAIL FROM:<a@example.com> SIZE=20001", 552, "5.3.4", ""},
		}},
		{"the null sender is accepted", "127.0.0.2", []step{
			{"MAIL FROM:<>", 250, "", ""},
			{"RCPT TO:<u@example.org>", 250, "", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := g.DialFrom(tt.source)
			c.Expect(250, "EHLO client.test")
			for _, s := range tt.steps {
				r := c.Cmd("%s", s.cmd)
				if r.Code != s.code || r.Enhanced != s.enh && s.enh != "" || !strings.Contains(r.Text, s.text) {
					t.Fatalf("%s: got %s; want %d %s ...%s...", s.cmd, r, s.code, s.enh, s.text)
				}
				if r.Code >= 400 && r.Code != 552 {
					RequireQueueID(t, r)
				}
			}
			c.Close()
		})
	}

	t.Run("message over the size limit", func(t *testing.T) {
		c := g.DialFrom("127.0.0.2")
		big := simpleMsg + strings.Repeat("0123456789abcdef0123456789abcdef\r\n", 1000)
		r := c.Send("a@example.com", []string{"u@example.org"}, []byte(big))
		if r.Code != 552 || r.Enhanced != "5.3.4" {
			t.Fatalf("oversized message: %s", r)
		}
		id := RequireQueueID(t, r)
		// The client can carry on after the refusal.
		c.Expect(250, "RSET")
		if _, ok := g.WaitLog(`queue_id=`+id+` .*reply="552 5\.3\.4`, 5*time.Second); !ok {
			t.Errorf("refusal not logged with its queue id")
		}
	})
}

func TestBackendFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(be *smtptest.Server)
		code  int
		enh   string
		text  string
	}{
		{"backend refuses the message permanently", func(be *smtptest.Server) {
			be.RefuseData(filters.Reply{Code: 554, Enhanced: "5.7.1", Text: "Message refused by backend policy"})
		}, 554, "5.7.1", "Message refused by backend policy"},
		{"backend answers 4xx", func(be *smtptest.Server) {
			be.RefuseData(filters.Reply{Code: 451, Enhanced: "4.3.0", Text: "Queue file write error"})
		}, 451, "4.4.1", ""},
		{"backend down", func(be *smtptest.Server) { be.Stop() }, 451, "4.4.1", "Backend temporarily unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Start(t, Options{})
			tt.setup(g.Backend)
			c := g.DialFrom("127.0.0.2")
			r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg))
			if r.Code != tt.code || r.Enhanced != tt.enh || !strings.Contains(r.Text, tt.text) {
				t.Errorf("got %s; want %d %s ...%s...", r, tt.code, tt.enh, tt.text)
			}
			RequireQueueID(t, r)
			if g.Backend.Count() != 0 {
				t.Errorf("backend delivered a message that was refused")
			}
		})
	}
}

func TestConnectionLimits(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"limits": map[string]any{"max_connections": 4, "max_connections_per_ip": 2}}})
	// The slots are taken by transactions: an idle session would be closed
	// to make room (TestIdleEvicted).
	busy := func(src string) {
		c := g.DialFrom(src)
		c.Expect(250, "EHLO busy.test")
		c.Expect(250, "MAIL FROM:<a@example.com>")
	}
	busy("127.0.0.4")
	busy("127.0.0.4")
	third := g.DialFrom("127.0.0.4")
	if b := third.Banner; b.Code != 421 || b.Enhanced != "4.7.0" {
		t.Errorf("third connection from one address: %s", b)
	}
	RequireQueueID(t, third.Banner)
	// Another address still gets in, up to the total.
	busy("127.0.0.5")
	busy("127.0.0.6")
	over := g.DialFrom("127.0.0.7")
	if b := over.Banner; b.Code != 421 || b.Enhanced != "4.7.0" {
		t.Errorf("connection over the total: %s", b)
	}
}

func TestSIGTERMGraceful(t *testing.T) {
	g := Start(t, Options{})
	busy := g.DialFrom("127.0.0.2")
	busy.Expect(250, "EHLO client.test")
	busy.Expect(250, "MAIL FROM:<a@example.com>")
	busy.Expect(250, "RCPT TO:<u@example.org>")
	busy.Expect(354, "DATA")
	idle := g.DialFrom("127.0.0.3")
	idle.Expect(250, "EHLO idle.test")

	g.Signal(syscall.SIGTERM)
	if r, err := idle.ReadReply(); err != nil || r.Code != 421 {
		t.Errorf("idle client at SIGTERM: %v %v", r, err)
	}
	if _, ok := g.WaitLog(`msg=stopping signal=terminated`, 10*time.Second); !ok {
		t.Fatalf("no stopping line")
	}
	if _, err := smtptest.DialErr(t, g.Addr, smtptest.DialOptions{Timeout: 2 * time.Second}); err == nil {
		t.Errorf("a new connection was accepted after SIGTERM")
	}
	// The message in flight completes: the client hears the backend's
	// acceptance.
	r, err := busy.SendBody([]byte(simpleMsg))
	if err != nil || r.Code != 250 {
		t.Fatalf("transaction in flight at SIGTERM: %v %v", r, err)
	}
	if code := g.Wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	if g.Backend.Count() != 1 {
		t.Errorf("backend has %d messages", g.Backend.Count())
	}
}

func TestSIGHUPReload(t *testing.T) {
	g := Start(t, Options{})
	c := g.DialFrom("127.0.0.2")
	c.Expect(250, "EHLO client.test")
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 554 {
		t.Fatalf("before reload: %s", r)
	}
	c.Expect(250, "RSET")

	// A good change applies to the next transaction, on the same
	// connection; limits to the connections accepted after it.
	g.Reconfigure(map[string]any{"domains": []string{"example.org", "example.net"}, "max_recipients": 1})
	g.Signal(syscall.SIGHUP)
	if _, ok := g.WaitLog(`msg="configuration reloaded"`, 10*time.Second); !ok {
		t.Fatalf("no reload line")
	}
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 250 {
		t.Errorf("after reload: %s", r)
	}
	c.Expect(250, "RCPT TO:<y@example.net>") // this connection keeps max_recipients 100
	c.Expect(250, "RSET")
	fresh := g.DialFrom("127.0.0.2")
	fresh.Expect(250, "EHLO client.test")
	fresh.Expect(250, "MAIL FROM:<a@example.com>")
	fresh.Expect(250, "RCPT TO:<x@example.net>")
	if r := fresh.Cmd("RCPT TO:<y@example.net>"); r.Code != 452 {
		t.Errorf("new connection after max_recipients became 1: %s", r)
	}

	// A broken file is refused, said why, and the running configuration
	// stays.
	WriteConfigRaw(t, g.ConfigPath, "domains: [example.org\nmax_recipients: lots\n")
	g.Signal(syscall.SIGHUP)
	if _, ok := g.WaitLog(`msg="reload refused; keeping the running configuration"`, 10*time.Second); !ok {
		t.Fatalf("broken reload not reported")
	}
	c.Expect(250, "MAIL FROM:<a@example.com>")
	if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 250 {
		t.Errorf("after a broken reload: %s", r)
	}
	if g.Exited() {
		t.Fatalf("gateway exited on a broken reload")
	}
}

func TestServeCommandLine(t *testing.T) {
	out, _, code := Run(t, nil, "serve", "-help")
	if code != 0 {
		t.Errorf("serve -help: exit %d", code)
	}
	for _, want := range []string{"127.0.0.1:2525", "127.0.0.1:25", "./mailguard-data", "26214400"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve -help does not show the default %s:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	bad := WriteConfig(t, dir, "bad.yaml", map[string]any{"max_recipients": "many", "listen": "127.0.0.1:0"})
	_, errOut, code := Run(t, nil, "serve", "-config", bad)
	if code != 2 || !strings.Contains(errOut, "bad.yaml:") || !strings.Contains(errOut, "max_recipients") {
		t.Errorf("bad configuration: exit %d, stderr:\n%s", code, errOut)
	}
	_, _, code = Run(t, nil, "serve", "-nosuchflag")
	if code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}

	// A certificate that cannot be read is a configuration problem (2);
	// a listen address already taken is a run-time failure (1).
	g := Start(t, Options{})
	if _, err := os.Stat(filepath.Join(g.Dir, "data", "spool")); err != nil {
		t.Errorf("data_dir not created: %v", err)
	}
	noCert := Start(t, Options{NoWait: true, Settings: map[string]any{"tls": map[string]any{"cert": "/nonexistent/cert.pem", "key": "/nonexistent/key.pem"}}})
	if code := noCert.Wait(30 * time.Second); code != 2 {
		t.Errorf("unreadable certificate: exit %d\n%s", code, noCert.Log())
	}
	busy := Start(t, Options{NoWait: true, Settings: map[string]any{"listen": g.Addr}})
	if code := busy.Wait(30 * time.Second); code != 1 {
		t.Errorf("listen address in use: exit %d\n%s", code, busy.Log())
	}
}

// TestConcurrentClients relays from several clients at once; every message
// arrives once, under its own queue id.
func TestConcurrentClients(t *testing.T) {
	g := Start(t, Options{})
	const clients, each = 8, 5
	var wg sync.WaitGroup
	ids := make(chan string, clients*each)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := g.DialFrom(fmt.Sprintf("127.0.1.%d", i+1))
			c.Expect(250, "EHLO client.test")
			for j := range each {
				c.Expect(250, "MAIL FROM:<a@example.com>")
				c.Expect(250, "RCPT TO:<u@example.org>")
				r := c.Data([]byte(simpleMsg + fmt.Sprintf("client %d message %d\r\n", i, j)))
				if r.Code != 250 {
					t.Errorf("client %d message %d: %s", i, j, r)
					return
				}
				ids <- r.Text
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("queue id reused: %s", id)
		}
		seen[id] = true
	}
	if n := g.Backend.Count(); n != clients*each {
		t.Errorf("backend got %d messages, want %d", n, clients*each)
	}
}

// writeTestCert writes a throwaway self-signed certificate and key as PEM
// files and returns their paths.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"}, DNSNames: []string{"mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	WriteConfigRaw(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	WriteConfigRaw(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return certFile, keyFile
}

func TestSTARTTLSAndAUTH(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	users := filepath.Join(dir, "users")
	WriteConfigRaw(t, users, "# user:bcrypt-hash\n"+userLine(t, "alice", "s3cret"))
	g := Start(t, Options{Settings: map[string]any{
		"tls":  map[string]any{"cert": cert, "key": key},
		"auth": map[string]any{"users_file": users},
	}})

	c := g.DialFrom("127.0.0.2")
	r := c.Cmd("EHLO client.test")
	if all := strings.Join(r.Lines, "\n"); !strings.Contains(all, "STARTTLS") || strings.Contains(all, "AUTH") {
		t.Errorf("EHLO in clear text: %s", all)
	}
	c.StartTLS()
	r = c.Cmd("EHLO client.test")
	if all := strings.Join(r.Lines, "\n"); !strings.Contains(all, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO under TLS: %s", all)
	}
	// Not yet authenticated: no relaying.
	c.Expect(250, "MAIL FROM:<alice@example.com>")
	if r := c.Cmd("RCPT TO:<x@example.net>"); r.Code != 554 {
		t.Errorf("relay before AUTH: %s", r)
	}
	c.Expect(250, "RSET")
	bad := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong"))
	if r := c.Cmd("AUTH PLAIN %s", bad); r.Code != 535 {
		t.Errorf("wrong password: %s", r)
	}
	good := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret"))
	c.Expect(235, "AUTH PLAIN %s", good)
	m, _ := sent(t, g, c, "alice@example.com", []string{"x@example.net"}, []byte(simpleMsg))
	if !bytes.Contains(m.Data, []byte("with ESMTPSA id")) {
		t.Errorf("Received: of an authenticated TLS session: %q", m.Data[:200])
	}
}

func TestCommandTimeout(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"limits": map[string]any{"command_timeout": "1s"}}})
	c := g.DialFrom("127.0.0.2")
	c.Expect(250, "EHLO client.test")
	r, err := c.ReadReply() // say nothing; the gateway gives up on us
	if err != nil || r.Code != 421 || r.Enhanced != "4.4.2" {
		t.Errorf("silent client: %v %v", r, err)
	}
}
