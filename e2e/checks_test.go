package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"mailguard/internal/testutil/smtptest"
)

const gtubeLine = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// checkedMsg builds a message with a proper header (extra fields first)
// and body.
func checkedMsg(extra, body string) []byte {
	date := time.Now().UTC().Format(time.RFC1123Z)
	return []byte(extra +
		"From: a@example.com\r\nTo: u@example.org\r\nSubject: checks\r\n" +
		"Date: " + date + "\r\nMessage-ID: <checks@example.com>\r\n\r\n" + body)
}

// relayedSpamHeaders sends msg, requires it to be relayed, and returns the
// backend copy's X-Spam-Status and X-Spam-Flag values ("" when absent).
func relayedSpamHeaders(t *testing.T, g *Gateway, c *smtptest.Client, msg []byte) (status, flag string) {
	t.Helper()
	before := g.Backend.Count()
	if r := c.Send("a@example.com", []string{"u@example.org"}, msg); r.Code != 250 {
		t.Fatalf("message not accepted: %s", r)
	}
	got := g.Backend.Wait(before+1, 10*time.Second)
	if len(got) <= before {
		t.Fatalf("backend has %d messages after a 250", len(got))
	}
	data := got[before].Data
	if end := bytes.Index(data, []byte("\r\n\r\n")); end >= 0 {
		data = data[:end]
	}
	// Unfold: long fields may be folded (RFC 5322 section 2.2.3).
	header := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(string(data))
	for _, line := range strings.Split(header, "\r\n") {
		if v, ok := strings.CutPrefix(line, "X-Spam-Status: "); ok {
			status = v
		}
		if v, ok := strings.CutPrefix(line, "X-Spam-Flag: "); ok {
			flag = v
		}
	}
	return status, flag
}

// TestMalformedRejected sends each malformed kind of SPEC.md through the
// gateway: each gets 550 5.6.0 naming the fault and the queue id, and none
// reaches the backend.
func TestMalformedRejected(t *testing.T) {
	g := Start(t, Options{})
	tests := []struct {
		name, msg, fault string
	}{
		{"NUL byte", string(checkedMsg("", "hello\x00world\r\n")), "NUL byte in message"},
		{"line over 998 octets", string(checkedMsg("", strings.Repeat("x", 999)+"\r\n")), "line 7 longer than 998 octets"},
		{"header line neither field nor continuation", string(checkedMsg("this is not a header\r\n", "hi\r\n")), "malformed header line 1: not a header field"},
		{"no From", "To: u@example.org\r\nSubject: x\r\n\r\nhi\r\n", "no From header"},
		{"two From", string(checkedMsg("From: b@example.com\r\n", "hi\r\n")), "duplicate From header"},
		{"two Subject", string(checkedMsg("Subject: again\r\n", "hi\r\n")), "duplicate Subject header"},
		{"multipart without boundary", string(checkedMsg("MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n", "--x\r\n\r\nhi\r\n--x--\r\n")), "multipart body without boundary parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := g.Backend.Count()
			c := g.DialFrom("127.0.0.2")
			defer c.Close()
			c.Expect(250, "EHLO client.test")
			r := c.Send("a@example.com", []string{"u@example.org"}, []byte(tt.msg))
			if r.Code != 550 || r.Enhanced != "5.6.0" || !strings.Contains(r.Text, "Message rejected: "+tt.fault) {
				t.Fatalf("got %s; want 550 5.6.0 Message rejected: %s", r, tt.fault)
			}
			RequireQueueID(t, r)
			if n := g.Backend.Count(); n != before {
				t.Errorf("backend got the malformed message (%d messages, had %d)", n, before)
			}
		})
	}
}

// TestMalformedScoredByConfig turns one kind from reject to score: the
// message is relayed with the test in X-Spam-Status.
func TestMalformedScoredByConfig(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{
		"checks": map[string]any{
			"malformed": map[string]any{"duplicate_header": "score"},
			"scores":    map[string]any{"DUPLICATE_HEADER": 2.5},
		},
	}})
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client.test")
	status, _ := relayedSpamHeaders(t, g, c, checkedMsg("From: b@example.com\r\n", "hi\r\n"))
	if !strings.Contains(status, "DUPLICATE_HEADER=2.5") {
		t.Errorf("X-Spam-Status lacks DUPLICATE_HEADER=2.5:\n%s", status)
	}
}

// TestGTUBE checks the thresholds end to end, as operators do with the
// GTUBE string: tagged and relayed when only tagging applies, refused at
// the default reject threshold.
func TestGTUBE(t *testing.T) {
	t.Run("tagged", func(t *testing.T) {
		g := Start(t, Options{Settings: map[string]any{
			"thresholds": map[string]any{"tag": 5, "quarantine": 2000, "reject": 3000},
		}})
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		status, flag := relayedSpamHeaders(t, g, c, checkedMsg("", "test\r\n"+gtubeLine+"\r\n"))
		if flag != "YES" {
			t.Errorf("X-Spam-Flag = %q, want YES", flag)
		}
		if !strings.HasPrefix(status, "Yes, score=1000") || !strings.Contains(status, "GTUBE=1000.0") || !strings.Contains(status, "required=5.0") {
			t.Errorf("X-Spam-Status = %q, want Yes, score 1000 with GTUBE=1000.0", status)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		g := Start(t, Options{})
		before := g.Backend.Count()
		c := g.DialFrom("127.0.0.2")
		defer c.Close()
		c.Expect(250, "EHLO client.test")
		r := c.Send("a@example.com", []string{"u@example.org"}, checkedMsg("", gtubeLine+"\r\n"))
		if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.Contains(r.Text, "GTUBE") {
			t.Fatalf("got %s; want 550 5.7.1 naming GTUBE", r)
		}
		RequireQueueID(t, r)
		if g.Backend.Count() != before {
			t.Error("a rejected message reached the backend")
		}
	})
}

// TestSpamStatusNoNegativeZero: a total and a test that round to zero from
// below read 0.0 in the relayed X-Spam-Status, never -0.0.
func TestSpamStatusNoNegativeZero(t *testing.T) {
	g := Start(t, Options{Settings: map[string]any{"checks": map[string]any{"scores": map[string]any{"MISSING_DATE": -0.001, "MISSING_MID": -0.04}}}})
	before := g.Backend.Count()
	c := g.DialFrom("127.0.0.2")
	defer c.Close()
	c.Expect(250, "EHLO client2.example.com")
	msg := []byte("From: a@example.com\r\nTo: u@example.org\r\nSubject: no date, no id\r\n\r\nhello\r\n")
	if r := c.Send("a@example.com", []string{"u@example.org"}, msg); r.Code != 250 {
		t.Fatalf("not accepted: %s", r)
	}
	got := g.Backend.Wait(before+1, 10*time.Second)
	if len(got) <= before {
		t.Fatal("backend did not get the message")
	}
	vs := headerValues(got[before].Data, "X-Spam-Status")
	if len(vs) != 1 {
		t.Fatalf("X-Spam-Status fields: %q", vs)
	}
	status := vs[0]
	if strings.Contains(status, "-0.0") || !strings.Contains(status, "score=0.0 ") ||
		!strings.Contains(status, "MISSING_DATE=0.0") || !strings.Contains(status, "MISSING_MID=0.0") {
		t.Errorf("X-Spam-Status: %q", status)
	}
}
