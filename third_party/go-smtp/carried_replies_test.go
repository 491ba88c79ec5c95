package smtp_test

import (
	"io"
	"testing"
)

// MAIL, RCPT and NOOP are answered as Postfix answers them, with RFC
// 3463's codes and without echoing the client's address back.
func TestPlainReplies(t *testing.T) {
	_, s, c, scanner, _ := testServerEhlo(t)
	defer s.Close()
	defer c.Close()
	for _, tc := range []struct{ cmd, want string }{
		{"MAIL FROM:<a@example.com>", "250 2.1.0 Ok"},
		{"RCPT TO:<u@example.org>", "250 2.1.5 Ok"},
		{"NOOP", "250 2.0.0 Ok"},
	} {
		io.WriteString(c, tc.cmd+"\r\n")
		scanner.Scan()
		if got := scanner.Text(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
