package antivirus

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/clamdtest"
)

func eicarMessage() []byte {
	return []byte("From: a@sender.test\r\nTo: u@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream; name=eicar.com\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(clamdtest.EICAR()) + "\r\n--b--\r\n")
}

const cleanMessage = "From: a@sender.test\r\nTo: u@example.org\r\nSubject: hi\r\n\r\nNothing to see.\r\n"

// TestScanRealClamd: the INSTREAM client against the machine's clamd, on
// a unix socket and on a loopback port: EICAR as an attachment is found
// with the test database's signature, a clean message and a large one are
// clean.
func TestScanRealClamd(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		s := clamdtest.Start(t, tcp)
		c, err := NewClient(s.Addr, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Scan(context.Background(), bytes.NewReader(eicarMessage()))
		if err != nil || !res.Infected || !strings.HasPrefix(res.Signature, clamdtest.Signature) {
			t.Errorf("%s: EICAR: %+v, %v; want infected with %s", s.Addr, res, err, clamdtest.Signature)
		}
		res, err = c.Scan(context.Background(), strings.NewReader(cleanMessage))
		if err != nil || res.Infected {
			t.Errorf("%s: clean: %+v, %v", s.Addr, res, err)
		}
		// Several chunks.
		big := cleanMessage + strings.Repeat("a line of text to make the message span several chunks\r\n", 5000)
		res, err = c.Scan(context.Background(), strings.NewReader(big))
		if err != nil || res.Infected {
			t.Errorf("%s: large clean: %+v, %v", s.Addr, res, err)
		}
		s.Stop()
		_, err = c.Scan(context.Background(), strings.NewReader(cleanMessage))
		if !errors.Is(err, ErrScanner) {
			t.Errorf("%s: clamd stopped: err %v, want ErrScanner", s.Addr, err)
		}
	}
}

// TestFilterRealClamd: the filter's verdicts: reject naming the signature,
// quarantine, pass, and on_error tempfail or accept when clamd is gone.
func TestFilterRealClamd(t *testing.T) {
	s := clamdtest.Start(t, false)
	c, err := NewClient(s.Addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	run := func(f *Filter, msg []byte) filters.Verdict {
		tr := filters.NewTransaction(&filters.ClientConn{}, "Q1")
		return f.CheckMessage(context.Background(), tr, filters.NewMessage(msg))
	}
	v := run(New(Config{Client: c, Log: log}), eicarMessage())
	if want := "554 5.7.0 Message rejected: virus found: " + clamdtest.Signature; v.Action != filters.Reject || !strings.HasPrefix(v.Reply.String(), want) || !strings.HasSuffix(v.Reply.Text, "; queue id Q1") {
		t.Errorf("EICAR: %v %q; want %s...; queue id Q1", v.Action, v.Reply, want)
	}
	if v := run(New(Config{Client: c, Quarantine: true, Log: log}), eicarMessage()); v.Action != filters.Quarantine {
		t.Errorf("EICAR, quarantine: %v", v.Action)
	}
	if v := run(New(Config{Client: c, Log: log}), []byte(cleanMessage)); !v.IsPass() {
		t.Errorf("clean: %+v", v)
	}
	s.Stop()
	if v := run(New(Config{Client: c, Log: log}), []byte(cleanMessage)); v.Action != filters.Tempfail || !strings.HasPrefix(v.Reply.String(), "451 4.7.1 ") {
		t.Errorf("clamd stopped, on_error tempfail: %v %q", v.Action, v.Reply)
	}
	if v := run(New(Config{Client: c, Accept: true, Log: log}), []byte(cleanMessage)); !v.IsPass() {
		t.Errorf("clamd stopped, on_error accept: %+v", v)
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		line     string
		infected bool
		sig      string
		err      bool
	}{
		{"stream: OK", false, "", false},
		{"stream: Eicar-Test-Signature FOUND", true, "Eicar-Test-Signature", false},
		{"stream: Win.Trojan.Agent-1 FOUND\x00", true, "Win.Trojan.Agent-1", false},
		{"INSTREAM size limit exceeded. ERROR", false, "", true},
		{"stream: \x1b[31mbad\r\n FOUND", true, "?[31mbad", false},
		{"", false, "", true},
		{"UNKNOWN COMMAND", false, "", true},
	}
	for _, tt := range tests {
		r, err := ParseReply(tt.line)
		if r.Infected != tt.infected || r.Signature != tt.sig || (err != nil) != tt.err {
			t.Errorf("%q: %+v %v", tt.line, r, err)
		}
	}
}

func TestNewClient(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:3310": true, "unix:/run/clamav/clamd.ctl": true, "unix:": false, "localhost": false, "": false} {
		if _, err := NewClient(addr, 0); (err == nil) != ok {
			t.Errorf("%q: err %v", addr, err)
		}
	}
}
