package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseUsers: any users file parses or fails with an error naming a
// line; never a panic, never a user without a name or with a bad address.
func FuzzParseUsers(f *testing.F) {
	f.Add("alice:$2a$04$wD1QKQ8Qy3tqN8oE0hTz6OQ5k6jmGQXyJ3Y3zqvS6QqI3Yt0hF4y.\n")
	f.Add("bob:$2a$04$wD1QKQ8Qy3tqN8oE0hTz6OQ5k6jmGQXyJ3Y3zqvS6QqI3Yt0hF4y.:b@example.org,@example.net\n# c\n\n")
	f.Add("::\n:x:y:z\n")
	f.Fuzz(func(t *testing.T, in string) {
		users, err := ParseUsers([]byte(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "token too long") {
				t.Errorf("error without a line: %v", err)
			}
			return
		}
		for name, u := range users {
			if name == "" || name != u.Name || strings.Contains(name, ":") {
				t.Errorf("user %q", name)
			}
			for _, a := range u.Addresses {
				if !strings.Contains(a, "@") || a != strings.ToLower(a) {
					t.Errorf("address %q", a)
				}
			}
		}
	})
}

// FuzzParseMessage: any message is shown as far as it can be read, as
// valid UTF-8, without a panic.
func FuzzParseMessage(f *testing.F) {
	f.Add("Subject: x\r\n\r\nbody\r\n")
	f.Add("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=koi8-r\r\n\r\n<p>\xf0\xd2</p>\r\n--b--\r\n")
	f.Add("Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n")
	f.Add("Content-Type: multipart/mixed\r\n\r\nno boundary\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		p := parse([]byte(raw))
		if !utf8.ValidString(p.Text) || !utf8.ValidString(p.HTML) {
			t.Errorf("not UTF-8: %q %q", p.Text, p.HTML)
		}
		for _, h := range p.Header {
			if !utf8.ValidString(h.Value) || strings.ContainsAny(h.Value, "\r\n") {
				t.Errorf("header value %q", h.Value)
			}
		}
	})
}
