package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/clamdtest"
	"mailguard/internal/testutil/smtptest"
)

// uriblZone is base.zone with the list of testdata/uribl.zone.
func uriblZone(t *testing.T) string {
	return zoneFiles(t, "testdata/base.zone", "testdata/uribl.zone")
}

// linkMsg is an HTML message linking to url.
func linkMsg(url string) []byte {
	return []byte("From: a@example.com\r\nTo: u@example.org\r\nSubject: your account\r\nDate: Fri, 27 Nov 2026 04:00:00 +0000\r\nMessage-ID: <2@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Please <a href=\"" + url + "\">verify your account</a>.</p></body></html>\r\n")
}

// TestURIBL: a message linking to a domain on a reject URI blocklist is
// refused at the end of DATA naming the domain and the list; on a score
// list it is relayed with URIBL_<ZONE> and the domain in X-Spam-Status;
// a link the list answers 127.255.255.254 for ("query refused") is not a
// listing either way.
func TestURIBL(t *testing.T) {
	zone := uriblZone(t)
	g := Start(t, Options{Zone: zone, Settings: map[string]any{
		"uribl": []any{map[string]any{"zone": "uribl.test", "action": "reject"}},
	}})
	c := g.Dial(smtptest.DialOptions{})
	r := c.Send("a@example.com", []string{"u@example.org"}, linkMsg("https://login.secure.phish-bank.com/verify?id=1"))
	want := "Message rejected: body links to phish-bank.com, blocked using uribl.test; phishing site; see https://uribl.test/phish-bank.com; queue id "
	if r.Code != 554 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, want) {
		t.Errorf("listed link: %s; want 554 5.7.1 %s...", r, want)
	}
	RequireQueueID(t, r)
	if got := g.LogLines(`msg="reject: link to a listed domain".*filter=uribl zone=uribl.test domain=phish-bank.com answer=127.0.0.2`); len(got) == 0 {
		t.Errorf("no log line naming the listed domain:\n%s", g.Log())
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
	// The list refuses the query: relayed, with a warning.
	status, _ := relayedSpamHeaders(t, g, c, linkMsg("http://www.refused-links.com/"))
	if strings.Contains(status, "URIBL") {
		t.Errorf("X-Spam-Status %q: a 127.255.255.254 answer counted as a listing", status)
	}
	if _, ok := g.WaitLog(`level=WARN.*zone=uribl.test.*answer=127.255.255.254`, 10*time.Second); !ok {
		t.Errorf("the 127.255.255.254 answer was not logged as a warning")
	}
	c.Close()

	g = Start(t, Options{Zone: zone, Settings: map[string]any{
		"uribl": []any{map[string]any{"zone": "uribl.test", "action": "score", "weight": 6}},
	}})
	c = g.Dial(smtptest.DialOptions{})
	defer c.Close()
	status, flag := relayedSpamHeaders(t, g, c, linkMsg("hxxps://login.phish-bank[.]com/"))
	if !strings.HasPrefix(status, "Yes, ") || !strings.Contains(status, "URIBL_URIBL_TEST=6.0") || !strings.Contains(status, "details=URIBL_URIBL_TEST[phish-bank.com]") || flag != "YES" {
		t.Errorf("score list: X-Spam-Status %q, X-Spam-Flag %q; want Yes, URIBL_URIBL_TEST=6.0 and details=URIBL_URIBL_TEST[phish-bank.com]", status, flag)
	}
	status, _ = relayedSpamHeaders(t, g, c, linkMsg("http://www.refused-links.com/"))
	if strings.Contains(status, "URIBL") {
		t.Errorf("score list, refused query: X-Spam-Status %q", status)
	}
}

// attachmentMsg is a message with one base64 attachment.
func attachmentMsg(name, ctype string, body []byte) []byte {
	return []byte("From: a@example.com\r\nTo: u@example.org\r\nSubject: documents\r\nDate: Fri, 27 Nov 2026 04:00:00 +0000\r\nMessage-ID: <3@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: " + ctype + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString(body)) + "\r\n--b--\r\n")
}

// wrap76 breaks base64 text into lines of 76 (RFC 2045 section 6.8).
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// tarGzBomb is a tar.gz holding n zero bytes, then a program.
func tarGzBomb(t *testing.T, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: n, Typeflag: tar.TypeReg})
	zero := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(zero)) {
		tw.Write(zero[:min(left, int64(len(zero)))])
	}
	tw.WriteHeader(&tar.Header{Name: "run.exe", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("MZ"))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipWith(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	w.Close()
	return buf.Bytes()
}

// TestAttachments: with the defaults, a program attachment and a zip
// holding a script are refused with 554 5.7.1 naming the file, a
// document is relayed; attachments: {enabled: false} lets the program
// through.
func TestAttachments(t *testing.T) {
	g := Start(t, Options{})
	c := g.Dial(smtptest.DialOptions{})
	defer c.Close()
	refused := []struct {
		msg  []byte
		text string
	}{
		{attachmentMsg("invoice.pdf.exe", "application/octet-stream", []byte("MZ")), `Message rejected: attachment "invoice.pdf.exe" has a double extension (.pdf.exe)`},
		{attachmentMsg("orders.zip", "application/zip", zipWith(t, "orders/invoice.js", []byte("WScript.Echo(1)"))), `Message rejected: attachment "orders.zip/orders/invoice.js" is an executable file (.js)`},
	}
	for _, tt := range refused {
		r := c.Send("a@example.com", []string{"u@example.org"}, tt.msg)
		if r.Code != 554 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, tt.text+"; queue id ") {
			t.Errorf("got %s; want 554 5.7.1 %s; queue id ...", r, tt.text)
		}
		RequireQueueID(t, r)
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
	if got := g.LogLines(`msg="reject: attachment".*filter=attachments class=executable file="\\"orders.zip/orders/invoice.js\\""`); len(got) == 0 {
		t.Errorf("no log line naming the file:\n%s", g.Log())
	}
	// A tar.gz bomb: 80 MB of zeros in 80 kB, then a program. The walk
	// stops at max_expanded_bytes (64 MiB) and the message is held.
	r := c.Send("a@example.com", []string{"u@example.org"}, attachmentMsg("backup.tar.gz", "application/gzip", tarGzBomb(t, 80<<20)))
	if r.Code != 250 || !strings.HasPrefix(r.Text, "Ok: held for review; queue id ") {
		t.Errorf("tar.gz bomb: %s; want 250 held for review", r)
	}
	if got := g.LogLines(`msg="quarantine: attachment".*class=limits file="\\"backup.tar.gz/backup.tar\\"" why="expands to more than 67108864 bytes"`); len(got) == 0 {
		t.Errorf("no log line for the bomb:\n%s", g.Log())
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
	status, _ := relayedSpamHeaders(t, g, c, attachmentMsg("report.pdf", "application/pdf", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")))
	if strings.Contains(status, "ATTACH_") {
		t.Errorf("a PDF scored: %q", status)
	}

	g = Start(t, Options{Settings: map[string]any{"attachments": map[string]any{"enabled": false}}})
	c2 := g.Dial(smtptest.DialOptions{})
	defer c2.Close()
	relayedSpamHeaders(t, g, c2, attachmentMsg("invoice.pdf.exe", "application/octet-stream", []byte("MZ")))
}

// TestAntivirus: with a real clamd (started here with a database holding
// the EICAR test signature), EICAR is refused naming the signature, a
// clean message is relayed, and with clamd stopped the message gets the
// on_error reply: 451 4.7.1 for tempfail, relayed for accept.
func TestAntivirus(t *testing.T) {
	av := clamdtest.Start(t, false)
	g := Start(t, Options{Settings: map[string]any{
		"antivirus": map[string]any{"clamd": av.Addr, "action": "reject", "on_error": "tempfail", "timeout": "20s"},
	}})
	c := g.Dial(smtptest.DialOptions{})
	defer c.Close()
	r := c.Send("a@example.com", []string{"u@example.org"}, attachmentMsg("test.txt", "text/plain", clamdtest.EICAR()))
	want := "Message rejected: virus found: " + clamdtest.Signature
	if r.Code != 554 || r.Enhanced != "5.7.0" || !strings.HasPrefix(r.Text, want) {
		t.Errorf("EICAR: %s; want 554 5.7.0 %s...", r, want)
	}
	RequireQueueID(t, r)
	if got := g.LogLines(`msg="reject: virus found".*filter=antivirus signature=` + clamdtest.Signature); len(got) == 0 {
		t.Errorf("no log line naming the signature:\n%s", g.Log())
	}
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
	relayedSpamHeaders(t, g, c, []byte(simpleMsg))

	av.Stop()
	r = c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg))
	if r.Code != 451 || r.Enhanced != "4.7.1" || !strings.HasPrefix(r.Text, "Message could not be scanned for viruses, try again later; queue id ") {
		t.Errorf("clamd stopped, on_error tempfail: %s; want 451 4.7.1", r)
	}
	if n := g.Backend.Count(); n != 1 {
		t.Errorf("backend has %d messages, want the clean one only", n)
	}

	g = Start(t, Options{Settings: map[string]any{
		"antivirus": map[string]any{"clamd": av.Addr, "on_error": "accept"},
	}})
	c2 := g.Dial(smtptest.DialOptions{})
	defer c2.Close()
	relayedSpamHeaders(t, g, c2, []byte(simpleMsg))
	if got := g.LogLines(`antivirus scan failed; accepted unscanned`); len(got) == 0 {
		t.Errorf("the unscanned message was not logged")
	}
}
