package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// authZone adds to the base zone what SPF, DKIM and DMARC read: example.com
// allows only 192.0.2.10 and publishes p=reject; example.net allows the
// test client 127.0.0.2 and signs with an ed25519 key.
func authZone(t *testing.T, pub ed25519.PublicKey) string {
	t.Helper()
	b, err := os.ReadFile("testdata/base.zone")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + `
example.com.                IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.example.com.         IN TXT "v=DMARC1; p=reject"
example.net.                IN TXT "v=spf1 ip4:127.0.0.2 -all"
_dmarc.example.net.         IN TXT "v=DMARC1; p=reject; adkim=s"
sel._domainkey.example.net. IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(pub) + `"
`
}

// authMsg builds a well-formed message from a@example.com with extra
// header fields first.
func authMsg(extra, body string) []byte {
	date := time.Now().UTC().Format(time.RFC1123Z)
	return []byte(extra +
		"From: a@example.com\r\nTo: u@example.org\r\nSubject: authentication\r\n" +
		"Date: " + date + "\r\nMessage-ID: <auth-" + fmt.Sprint(time.Now().UnixNano()) + "@example.com>\r\n\r\n" + body)
}

// relayed sends msg from 127.0.0.2 and returns the backend's copy.
func relayed(t *testing.T, g *Gateway, source, from string, msg []byte) []byte {
	t.Helper()
	before := g.Backend.Count()
	c := g.DialFrom(source)
	defer c.Close()
	c.Expect(250, "EHLO client2.example.com")
	if r := c.Send(from, []string{"u@example.org"}, msg); r.Code != 250 {
		t.Fatalf("not accepted: %s", r)
	}
	got := g.Backend.Wait(before+1, 10*time.Second)
	if len(got) <= before {
		t.Fatalf("backend has %d messages after a 250", len(got))
	}
	return got[before].Data
}

// headerValues returns the values of the named field in a message's
// header, unfolded (the gateway folds long fields it adds).
func headerValues(data []byte, name string) []string {
	if end := bytes.Index(data, []byte("\r\n\r\n")); end >= 0 {
		data = data[:end]
	}
	var fields []string
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(fields) > 0 && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			fields[len(fields)-1] += " " + strings.TrimSpace(line)
			continue
		}
		fields = append(fields, line)
	}
	var vs []string
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f, name+": "); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

func TestAuthResultsThroughGateway(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := Start(t, Options{Zone: authZone(t, pub)})

	t.Run("spf fail scored", func(t *testing.T) {
		// A forged result in our name is removed; another host's is kept.
		msg := authMsg("Authentication-Results: mx.test; spf=pass smtp.mailfrom=a@example.com\r\n"+
			"Authentication-Results: elsewhere.example; spf=none\r\n", "hello\r\n")
		data := relayed(t, g, "127.0.0.2", "a@example.com", msg)
		status := headerValues(data, "X-Spam-Status")
		if len(status) != 1 || !strings.Contains(status[0], "SPF_FAIL=1.0") || !strings.Contains(status[0], "DMARC_FAIL_REJECT=4.0") {
			t.Errorf("X-Spam-Status %q: want SPF_FAIL=1.0 and DMARC_FAIL_REJECT=4.0", status)
		}
		ar := headerValues(data, "Authentication-Results")
		var ours []string
		for _, v := range ar {
			if strings.HasPrefix(v, "mx.test;") {
				ours = append(ours, v)
			}
		}
		if len(ours) != 1 || !strings.Contains(ours[0], "spf=fail smtp.mailfrom=a@example.com") ||
			!strings.Contains(ours[0], "dmarc=fail (p=reject) header.from=example.com") {
			t.Errorf("our Authentication-Results: %q (all: %q)", ours, ar)
		}
		if !strings.Contains(strings.Join(ar, "\n"), "elsewhere.example; spf=none") {
			t.Errorf("another host's Authentication-Results was removed: %q", ar)
		}
	})

	t.Run("spf and dkim pass", func(t *testing.T) {
		msg := bytes.ReplaceAll(authMsg("", "signed\r\n"), []byte("a@example.com"), []byte("news@example.net"))
		var signed bytes.Buffer
		if err := dkim.Sign(&signed, bytes.NewReader(msg), &dkim.SignOptions{Domain: "example.net", Selector: "sel", Signer: priv}); err != nil {
			t.Fatal(err)
		}
		data := relayed(t, g, "127.0.0.2", "bounce@example.net", signed.Bytes())
		ar := headerValues(data, "Authentication-Results")
		if len(ar) != 1 || !strings.Contains(ar[0], "spf=pass") || !strings.Contains(ar[0], "dkim=pass header.d=example.net") ||
			!strings.Contains(ar[0], "dmarc=pass") {
			t.Errorf("Authentication-Results %q", ar)
		}
		if status := headerValues(data, "X-Spam-Status"); len(status) != 1 || strings.Contains(status[0], "SPF_") || strings.Contains(status[0], "DKIM_") {
			t.Errorf("X-Spam-Status %q: nothing of SPF or DKIM should score", status)
		}
	})

	t.Run("relay clients not checked", func(t *testing.T) {
		data := relayed(t, g, "127.0.0.1", "a@example.com", authMsg("", "from inside\r\n"))
		if ar := headerValues(data, "Authentication-Results"); len(ar) != 0 {
			t.Errorf("a relay client's mail got %q", ar)
		}
		if status := headerValues(data, "X-Spam-Status"); len(status) != 1 || strings.Contains(status[0], "SPF_FAIL") {
			t.Errorf("X-Spam-Status %q", status)
		}
	})
}

// TestDMARCReject: with sender_auth.dmarc_reject, a message failing the
// p=reject policy of its From domain is refused at the end of DATA.
func TestDMARCReject(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := Start(t, Options{Zone: authZone(t, pub), Settings: map[string]any{"sender_auth": map[string]any{"dmarc_reject": true}}})
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client2.example.com")
	r := c.Send("a@example.com", []string{"u@example.org"}, authMsg("", "forged\r\n"))
	if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.Contains(r.Text, "DMARC") {
		t.Fatalf("DMARC p=reject failure: %s, want 550 5.7.1 naming DMARC", r)
	}
	RequireQueueID(t, r)
	if n := g.Backend.Count(); n != 0 {
		t.Errorf("backend got %d messages", n)
	}
}

// TestDMARCLooseRecordsAndSeveralAuthors: a p=reject record with a typo in
// another tag still refuses forged mail (RFC 7489 section 6.3), and a
// second author in another domain does not shield the forged one (section
// 6.6.1); the backend gets none of them.
func TestDMARCLooseRecordsAndSeveralAuthors(t *testing.T) {
	b, err := os.ReadFile("testdata/base.zone")
	if err != nil {
		t.Fatal(err)
	}
	zone := string(b) + `
bank.test.          IN MX  10 mx.example.com.
bank.test.          IN TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.bank.test.   IN TXT "v=DMARC1; p=reject; fo:1"
good.test.          IN MX  10 mx.example.com.
good.test.          IN TXT "v=spf1 ip4:127.0.0.2 -all"
shout.test.         IN MX  10 mx.example.com.
_dmarc.shout.test.  IN TXT "V=DMARC1 ; P=Reject ; ADKIM=s ; pct=abc"
reports.test.       IN MX  10 mx.example.com.
_dmarc.reports.test. IN TXT "v=DMARC1; rua=mailto:dmarc@reports.test"
`
	g := Start(t, Options{Zone: zone, Settings: map[string]any{"sender_auth": map[string]any{"dmarc_reject": true}}})
	msg := func(from string) []byte {
		return []byte("From: " + from + "\r\nTo: u@example.org\r\nSubject: wire transfer\r\n" +
			"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMessage-ID: <dmarc-" + fmt.Sprint(time.Now().UnixNano()) + "@good.test>\r\n\r\nPay now.\r\n")
	}
	for _, tc := range []struct {
		from   string
		refuse string // the domain named in the 550; "" when relayed
		dmarc  []string
	}{
		{"ceo@bank.test", "bank.test", nil},
		{"ceo@bank.test, helper@good.test", "bank.test", nil},
		{"helper@good.test, ceo@bank.test", "bank.test", nil},
		{"Helper <helper@good.test>, \"CEO\" <ceo@BANK.test>", "bank.test", nil},
		{"Board: helper@good.test, ceo@bank.test;", "bank.test", nil},
		{"helper@good.test, a@reports.test, ceo@bank.test", "bank.test", nil},
		{"ceo@shout.test", "shout.test", nil},
		{"helper@good.test, ceo@bank.test, broken <<x@good.test>", "bank.test", nil},
		// Relayed: a display name is not an author, and rua= without p=
		// asks for reports only.
		{`"ceo@bank.test" <helper@good.test>`, "", []string{"dmarc=none header.from=good.test"}},
		{"helper@good.test, a@reports.test", "", []string{"dmarc=none header.from=good.test", "dmarc=fail (p=none) header.from=reports.test"}},
	} {
		t.Run(tc.from, func(t *testing.T) {
			before := g.Backend.Count()
			c := g.DialFrom("127.0.0.2")
			defer c.Close()
			c.Expect(250, "EHLO client2.example.com")
			r := c.Send("helper@good.test", []string{"u@example.org"}, msg(tc.from))
			if tc.refuse != "" {
				if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.Contains(r.Text, tc.refuse) || !strings.Contains(r.Text, "DMARC") {
					t.Fatalf("From: %s got %s; want 550 5.7.1 naming %s's DMARC policy", tc.from, r, tc.refuse)
				}
				RequireQueueID(t, r)
				if n := g.Backend.Count(); n != before {
					t.Errorf("the backend got the refused message")
				}
				return
			}
			if r.Code != 250 {
				t.Fatalf("From: %s got %s; want 250", tc.from, r)
			}
			got := g.Backend.Wait(before+1, 10*time.Second)
			if len(got) <= before {
				t.Fatal("backend did not get the message")
			}
			ar := strings.Join(headerValues(got[before].Data, "Authentication-Results"), "\n")
			for _, w := range tc.dmarc {
				if !strings.Contains(ar, w) {
					t.Errorf("Authentication-Results %q lacks %q", ar, w)
				}
			}
		})
	}
}

// TestForgedHeadersEverySize: an arriving Authentication-Results in our
// name, and any X-Spam-* field, never reaches the backend, whatever its
// size (folded fields of 1 KB to 200 KB, around the 64 KiB the gateway
// holds of a field); another host's result of the same size arrives
// byte for byte.
func TestForgedHeadersEverySize(t *testing.T) {
	g := Start(t, Options{Zone: authZone(t, make(ed25519.PublicKey, ed25519.PublicKeySize))})
	fold := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString("\r\n\t(" + strings.Repeat("p", 70) + ")")
		}
		return b.String()
	}
	for _, n := range []int{1 << 10, 64<<10 - 200, 64<<10 - 1, 64 << 10, 64<<10 + 1, 70 << 10, 200 << 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			forged := "Authentication-Results: mx.test; dkim=pass header.d=example.com" + fold(n) + "\r\n"
			commented := "Authentication-Results: (" + strings.Repeat("c", 70) + fold(n) + ")\r\n mx.test; dmarc=pass\r\n"
			spam := "X-Spam-Status: No, score=-100.0" + fold(n) + "\r\n"
			other := "Authentication-Results: elsewhere.example; spf=none" + fold(n) + "\r\n"
			data := relayed(t, g, "127.0.0.2", "a@example.com", authMsg(forged+commented+spam+other, "hello\r\n"))
			header := string(data)
			if i := strings.Index(header, "\r\n\r\n"); i >= 0 {
				header = header[:i+2]
			}
			for _, v := range headerValues(data, "Authentication-Results") {
				if strings.Contains(v, "dkim=pass header.d=example.com") || strings.Contains(v, "dmarc=pass") {
					t.Errorf("a forged Authentication-Results of %d bytes reached the backend", len(v))
				}
			}
			if n := len(headerValues(data, "X-Spam-Status")); n != 1 {
				t.Errorf("%d X-Spam-Status fields reached the backend, want only ours", n)
			}
			if !strings.Contains(header, other) {
				t.Errorf("another host's Authentication-Results of %d bytes was not passed on as it came", len(other))
			}
		})
	}
}
