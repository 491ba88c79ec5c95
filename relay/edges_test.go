package relay

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailguard/internal/testutil/smtptest"
)

// TestDataAtBufferEdges: a message whose size or whose lines of a lone dot,
// of two dots or a CR LF fall at the edges of the 32 KiB copy and write
// buffers reaches the backend exactly as sent: no line "." ends it early,
// no stuffed dot is lost or doubled, no line end is cut in two.
func TestDataAtBufferEdges(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	c := dial(t, be.Addr)
	ctx := context.Background()
	const k32 = 32 << 10
	var msgs []string
	for _, at := range []int{k32 - 3, k32 - 2, k32 - 1, k32, k32 + 1, 2*k32 - 1, 2 * k32} {
		for _, line := range []string{".\r\n", "..\r\n", ".x\r\n", "\r\n"} {
			// Filler lines of 62 octets and a shorter one bring line to
			// offset at.
			body := "Subject: edge\r\n\r\n"
			for len(body)+64 <= at {
				body += strings.Repeat("a", 62) + "\r\n"
			}
			if pad := at - len(body); pad >= 2 {
				body += strings.Repeat("b", pad-2) + "\r\n"
			} else {
				body = body[:at-2] + "\r\n"
			}
			if len(body) != at {
				t.Fatalf("line placed at %d, want %d", len(body), at)
			}
			msgs = append(msgs, body+line+"after\r\n")
		}
		// The message ends at the edge, with a dot line or a bare dot.
		body := "Subject: edge\r\n\r\n" + strings.Repeat("c", at-len("Subject: edge\r\n\r\n")-3) + "\r\n"
		msgs = append(msgs, body+".", body[:len(body)-2]+"\r\n.\r\n")
	}
	for i, msg := range msgs {
		if r, err := c.Mail(ctx, "a@example.com", MailOptions{}); err != nil || r.Code != 250 {
			t.Fatalf("MAIL: %v %v", r, err)
		}
		if r, err := c.Rcpt(ctx, "u@example.org"); err != nil || r.Code != 250 {
			t.Fatalf("RCPT: %v %v", r, err)
		}
		r, err := c.Data(ctx, strings.NewReader(msg))
		if err != nil || r.Code != 250 {
			t.Fatalf("message %d (%d octets): %v %v", i, len(msg), r, err)
		}
		want := msg
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		got := be.Messages()
		if len(got) != i+1 {
			t.Fatalf("backend holds %d messages after %d", len(got), i+1)
		}
		if d := string(got[i].Data); d != want {
			t.Errorf("message %d (%d octets) arrived as %d octets; first difference at %s", i, len(msg), len(d), firstDiff(d, want))
		}
	}
}

func firstDiff(a, b string) string {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("%d (%q vs %q)", i, a[i:min(len(a), i+8)], b[i:min(len(b), i+8)])
		}
	}
	return fmt.Sprint(min(len(a), len(b)))
}
