package antivirus

import (
	"strings"
	"testing"
)

// FuzzParseReply: whatever clamd (or something in its place) answers, the
// signature that reaches a reply is one line of printable ASCII.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR", "stream: a\r\n250 ok FOUND", ": FOUND", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReply(s)
		if r.Infected && err != nil {
			t.Fatal("infected and failed")
		}
		if r.Infected && (r.Signature == "" || len(r.Signature) > 200) {
			t.Fatalf("signature %q", r.Signature)
		}
		for _, c := range []byte(r.Signature) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("signature %q", r.Signature)
			}
		}
		if strings.Contains(r.Signature, "\n") {
			t.Fatal("newline")
		}
	})
}
