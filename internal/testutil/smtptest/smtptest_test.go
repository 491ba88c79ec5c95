package smtptest

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		in   string
		want Reply
	}{
		{"250 2.0.0 Ok: queued as X\r\n", Reply{Code: 250, Enhanced: "2.0.0", Text: "Ok: queued as X"}},
		{"250-Hello x\r\n250-PIPELINING\r\n250 SIZE 10\r\n", Reply{Code: 250, Text: "SIZE 10"}},
		{"354 Go ahead\r\n", Reply{Code: 354, Text: "Go ahead"}},
		{"421 4.7.0\r\n", Reply{Code: 421, Enhanced: "4.7.0"}},
		{"221\r\n", Reply{Code: 221}},
	}
	for _, tt := range tests {
		c := &Client{r: bufio.NewReader(strings.NewReader(tt.in))}
		got, err := c.ReadReply()
		if err != nil || got.Code != tt.want.Code || got.Enhanced != tt.want.Enhanced || got.Text != tt.want.Text {
			t.Errorf("%q: got %+v %v, want %+v", tt.in, got, err, tt.want)
		}
	}
	c := &Client{r: bufio.NewReader(strings.NewReader("2x0 nonsense\r\n"))}
	if _, err := c.ReadReply(); err == nil {
		t.Errorf("malformed reply accepted")
	}
}

func TestDotStuff(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\r\n", "a\r\n.\r\n"},
		{".a\r\n..b\r\nc.\r\n", "..a\r\n...b\r\nc.\r\n.\r\n"},
		{"no line end", "no line end\r\n.\r\n"},
		{"", ".\r\n"},
		{"bare\n", "bare\n\r\n.\r\n"},
	}
	for _, tt := range tests {
		if got := string(DotStuff([]byte(tt.in))); got != tt.want {
			t.Errorf("DotStuff(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The server records what a client sent, byte for byte, and its knobs act.
func TestServer(t *testing.T) {
	s := Start(t, Options{})
	s.RefuseRcpt("no@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "No such user"})
	c := Dial(t, s.Addr, DialOptions{Source: "127.0.0.3"})
	if c.Banner.Code != 220 {
		t.Fatalf("banner %s", c.Banner)
	}
	c.Expect(250, "EHLO me.test")
	c.Expect(250, "MAIL FROM:<a@example.com> SIZE=12")
	if r := c.Cmd("RCPT TO:<no@example.org>"); r.Code != 550 || r.Enhanced != "5.1.1" || r.Text != "No such user" {
		t.Errorf("refused recipient: %s", r)
	}
	c.Expect(250, "RCPT TO:<u@example.org>")
	if r := c.Data([]byte(".x\r\nbare\n")); r.Code != 250 {
		t.Fatalf("DATA: %s", r)
	}
	m := s.Wait(1, 5*time.Second)
	if len(m) != 1 || string(m[0].Data) != ".x\r\nbare\n\r\n" || m[0].Helo != "me.test" || m[0].Size != 12 || len(m[0].Rcpts) != 1 {
		t.Errorf("recorded %+v", m)
	}
	s.Stop()
	if _, err := DialErr(t, s.Addr, DialOptions{Timeout: time.Second}); err == nil {
		t.Errorf("a stopped server accepted a connection")
	}
}
