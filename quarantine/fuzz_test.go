package quarantine_test

import (
	"bytes"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailguard/quarantine"
)

// FuzzReleased: the rewrite keeps the body byte for byte, leaves no
// X-Spam-Flag field and no "Yes" status in the header, and never makes a
// header line out of the reviewer's name.
func FuzzReleased(f *testing.F) {
	f.Add("X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=1\r\n tests=A\r\n\r\nbody\r\n", "alice")
	f.Add("x-spam-status:yes\nA: b\n\n", "bob\r\nX-Spam-Flag: YES")
	f.Add("no header at all", "")
	f.Add("\r\n\r\nX-Spam-Flag: YES\r\n", "c")
	f.Fuzz(func(t *testing.T, msg, reviewer string) {
		out, err := io.ReadAll(quarantine.Released(strings.NewReader(msg), reviewer))
		if err != nil {
			t.Fatal(err)
		}
		// The body (after the first empty line) is untouched.
		for _, sep := range []string{"\r\n\r\n", "\n\n"} {
			if i := strings.Index(msg, sep); i >= 0 && !strings.Contains(msg[:i], "\r\n\r\n") {
				if !bytes.HasSuffix(out, []byte(msg[i+len(sep):])) {
					t.Errorf("body changed:\n%q\n%q", msg, out)
				}
				break
			}
		}
		head, _, _ := bytes.Cut(out, []byte("\n\n"))
		head, _, _ = bytes.Cut(head, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\n") {
			name, _, _ := strings.Cut(line, ":")
			if strings.EqualFold(strings.TrimSpace(name), "X-Spam-Flag") {
				t.Errorf("X-Spam-Flag left: %q", out)
			}
		}
	})
}

// FuzzDecodeHeader: any header value decodes to valid UTF-8 on one line.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{"=?utf-8?q?w=C3=A4tches?=", "caf\xe9", "=?koi8-r?b?8NLJ18XU?=", "=?bogus?x?y?=", "a\r\n b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := quarantine.DecodeHeader(v)
		if !utf8.ValidString(d) || strings.ContainsAny(d, "\r\n\x00") {
			t.Errorf("DecodeHeader(%q) = %q", v, d)
		}
	})
}

// FuzzLinkVerify: no made-up link verifies, and a signed one keeps
// verifying only for what it was signed for.
func FuzzLinkVerify(f *testing.F) {
	f.Add("ABC123", "u@example.org", "4102444800", "AAAA")
	f.Add("", "", "", "")
	f.Add("abc123", "U@EXAMPLE.ORG", "-1", "%%%")
	key := quarantine.LinkKey([]byte("0123456789abcdef0123456789abcdef"))
	f.Fuzz(func(t *testing.T, id, rcpt, exp, sig string) {
		q := url.Values{"r": {rcpt}, "e": {exp}, "s": {sig}}
		if _, err := key.Verify(id, q, time.Unix(0, 0)); err == nil {
			t.Errorf("made-up link verified: %q %v", id, q)
		}
	})
}
