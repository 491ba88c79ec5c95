package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/smtptest"
)

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), Config{Addr: addr, Hostname: "gw.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRelay(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	be.RefuseRcpt("nobody@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "User unknown"})
	be.RefuseRcpt("full@example.org", filters.Reply{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full"})
	c := dial(t, be.Addr)
	ctx := context.Background()

	if r, err := c.Mail(ctx, "a@example.com", MailOptions{Size: 100}); err != nil || r.Code != 250 {
		t.Fatalf("MAIL: %v %v", r, err)
	}
	tests := []struct {
		rcpt string
		want filters.Reply
	}{
		{"u@example.org", filters.Reply{Code: 250, Enhanced: "2.0.0", Text: "Ok"}},
		{"nobody@example.org", filters.Reply{Code: 550, Enhanced: "5.1.1", Text: "User unknown"}},
		{"full@example.org", filters.Reply{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full"}},
	}
	for _, tt := range tests {
		r, err := c.Rcpt(ctx, tt.rcpt)
		if err != nil || r != tt.want {
			t.Errorf("RCPT %s: %v %v, want %v", tt.rcpt, r, err, tt.want)
		}
	}
	msg := "Subject: x\r\n\r\n.leading dot\r\nbare\nlf\r\n8bit \xe9\r\n"
	r, err := c.Data(ctx, strings.NewReader(msg))
	if err != nil || r.Code != 250 || r.Enhanced != "2.0.0" || !strings.HasPrefix(r.Text, "Ok: queued as") {
		t.Fatalf("DATA: %+v %v", r, err)
	}
	got := be.Messages()
	if len(got) != 1 {
		t.Fatalf("backend got %d messages", len(got))
	}
	// Dot-stuffing is undone by the backend; a bare LF becomes CRLF.
	want := "Subject: x\r\n\r\n.leading dot\r\nbare\r\nlf\r\n8bit \xe9\r\n"
	if string(got[0].Data) != want {
		t.Errorf("backend got %q, want %q", got[0].Data, want)
	}
	if got[0].Helo != "gw.test" || got[0].From != "a@example.com" || len(got[0].Rcpts) != 1 || got[0].Size != 100 {
		t.Errorf("envelope %+v", got[0])
	}

	// The connection is reusable for a second transaction.
	if r, err := c.Mail(ctx, "", MailOptions{}); err != nil || r.Code != 250 {
		t.Fatalf("second MAIL: %v %v", r, err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatalf("RSET: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	ctx := context.Background()

	be.RefuseMail(filters.Reply{Code: 553, Enhanced: "5.7.1", Text: "Sender refused"})
	c := dial(t, be.Addr)
	if r, err := c.Mail(ctx, "a@example.com", MailOptions{}); err != nil || r.Code != 553 || r.Text != "Sender refused" {
		t.Errorf("MAIL refused: %v %v", r, err)
	}
	be.RefuseMail(filters.Reply{})

	be.RefuseData(filters.Reply{Code: 554, Enhanced: "5.6.0", Text: "Content rejected"})
	c = dial(t, be.Addr)
	c.Mail(ctx, "a@example.com", MailOptions{})
	c.Rcpt(ctx, "b@example.org")
	if r, err := c.Data(ctx, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil || r.Code != 554 || r.Enhanced != "5.6.0" {
		t.Errorf("DATA refused: %v %v", r, err)
	}
}

func TestSMTPUTF8(t *testing.T) {
	ctx := context.Background()
	for _, offer := range []bool{false, true} {
		be := smtptest.Start(t, smtptest.Options{SMTPUTF8: offer})
		c := dial(t, be.Addr)
		if _, ok := c.Extensions()["SMTPUTF8"]; ok != offer {
			t.Errorf("offered %v, Extensions says %v", offer, ok)
		}
		_, err := c.Mail(ctx, "ü@example.com", MailOptions{SMTPUTF8: true})
		if (err == nil) != offer {
			t.Errorf("offered %v: MAIL SMTPUTF8 err %v", offer, err)
		}
	}
}

func TestUnavailable(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	addr := be.Addr
	be.Stop()
	_, err := Dial(context.Background(), Config{Addr: addr, Timeout: 2 * time.Second})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("dial stopped backend: %v", err)
	}
}

// A backend that greets and then says nothing: the deadline ends the wait.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "220 silent\r\n")
				io.Copy(io.Discard, c)
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, Config{Addr: l.Addr().String()})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("silent backend: %v", err)
	}
}

// A source that fails mid-way must not produce a delivered message.
func TestSourceFailure(t *testing.T) {
	be := smtptest.Start(t, smtptest.Options{})
	c := dial(t, be.Addr)
	ctx := context.Background()
	c.Mail(ctx, "a@example.com", MailOptions{})
	c.Rcpt(ctx, "b@example.org")
	src := io.MultiReader(strings.NewReader("Subject: x\r\n\r\npartial\r\n"), errReader{})
	if _, err := c.Data(ctx, src); err == nil {
		t.Fatal("Data with a failing source succeeded")
	}
	time.Sleep(100 * time.Millisecond)
	if n := be.Count(); n != 0 {
		t.Errorf("backend delivered %d truncated messages", n)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }
