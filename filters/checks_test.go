package filters

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// arrival is the clock of the tests: the testdata messages are dated just
// before it.
var arrival = time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)

func testChecks(cfg ChecksConfig) MessageChecker {
	if cfg.Hostname == "" {
		cfg.Hostname = "mx.example.org"
	}
	if cfg.Domains == nil {
		cfg.Domains = []string{"example.org"}
	}
	cfg.Now = func() time.Time { return arrival }
	return NewMessageChecks(cfg).(MessageChecker)
}

// outsideTx is a transaction from a client on the Internet, which names
// itself properly.
func outsideTx() *Transaction {
	c := &ClientConn{ClientIP: netip.MustParseAddr("192.0.2.10"), Helo: "client.example.net", ESMTP: true}
	return NewTransaction(c, "4XyZ9")
}

func loadMessage(t testing.TB, name string) *Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "checks", name))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSpool(SpoolConfig{MemLimit: 64})
	t.Cleanup(func() { s.Close() })
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	m, err := s.Message()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testNames(v Verdict) []string {
	var ns []string
	for _, s := range v.Scores {
		ns = append(ns, s.Test)
	}
	sort.Strings(ns)
	return ns
}

func TestMalformedRejects(t *testing.T) {
	tests := []struct{ file, reply string }{
		{"nul.eml", "Message rejected: NUL byte in message"},
		{"long_line.eml", "Message rejected: line 12 longer than 998 octets"},
		{"header_syntax.eml", "Message rejected: malformed header line 6: not a header field"},
		{"missing_from.eml", "Message rejected: no From header"},
		{"duplicate_from.eml", "Message rejected: duplicate From header"},
		{"duplicate_message_id.eml", "Message rejected: duplicate Message-ID header"},
		{"multipart_no_boundary.eml", "Message rejected: multipart body without boundary parameter"},
		{"nested_no_boundary.eml", "Message rejected: multipart/alternative part without boundary parameter"},
	}
	c := testChecks(ChecksConfig{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			v := c.CheckMessage(context.Background(), outsideTx(), loadMessage(t, tt.file))
			if v.Action != Reject {
				t.Fatalf("action = %v (%s), want reject", v.Action, v.Reason)
			}
			if v.Reply.Code != 550 || v.Reply.Enhanced != "5.6.0" || v.Reply.Text != tt.reply {
				t.Errorf("reply = %q, want 550 5.6.0 %s", v.Reply, tt.reply)
			}
		})
	}
}

func TestMalformedModes(t *testing.T) {
	tests := []struct {
		file, kind, test string
	}{
		{"nul.eml", "nul", "MALFORMED_NUL"},
		{"long_line.eml", "long_line", "MALFORMED_LONG_LINE"},
		{"header_syntax.eml", "header_syntax", "MALFORMED_HEADER"},
		{"missing_from.eml", "missing_from", "MISSING_FROM"},
		{"duplicate_from.eml", "duplicate_header", "DUPLICATE_HEADER"},
		{"nested_no_boundary.eml", "multipart_boundary", "MULTIPART_NO_BOUNDARY"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			scored := testChecks(ChecksConfig{Malformed: map[string]CheckMode{tt.kind: ModeScore}, Weights: map[string]float64{tt.test: 4.5}})
			v := scored.CheckMessage(context.Background(), outsideTx(), loadMessage(t, tt.file))
			if v.Action != Continue || !slices.Contains(testNames(v), tt.test) {
				t.Fatalf("scored: action %v tests %v, want continue with %s", v.Action, testNames(v), tt.test)
			}
			for _, s := range v.Scores {
				if s.Test == tt.test && s.Points != 4.5 {
					t.Errorf("%s scored %v, want the configured 4.5", tt.test, s.Points)
				}
			}
			off := testChecks(ChecksConfig{Malformed: map[string]CheckMode{tt.kind: ModeOff}})
			v = off.CheckMessage(context.Background(), outsideTx(), loadMessage(t, tt.file))
			if v.Action != Continue || slices.Contains(testNames(v), tt.test) {
				t.Errorf("off: action %v tests %v, want neither", v.Action, testNames(v))
			}
		})
	}
}

func TestScoredTests(t *testing.T) {
	tests := []struct {
		file string
		conn func(*ClientConn)
		want []string
	}{
		{"clean.eml", nil, nil},
		{"unquoted_boundary.eml", nil, nil},
		{"html_alternative.eml", nil, nil},
		{"missing_date.eml", nil, []string{"MISSING_DATE"}},
		{"missing_mid.eml", nil, []string{"MISSING_MID"}},
		{"date_past.eml", nil, []string{"DATE_IN_PAST"}},
		{"date_future.eml", nil, []string{"DATE_IN_FUTURE"}},
		{"invalid_date.eml", nil, []string{"INVALID_DATE"}},
		{"spoofed_local_from.eml", nil, []string{"SPOOFED_LOCAL_FROM"}},
		{"spoofed_local_from.eml", func(c *ClientConn) { c.SetRelayClient(true) }, nil},
		{"spoofed_local_from.eml", func(c *ClientConn) { c.AuthUser = "carol" }, nil},
		{"clean.eml", func(c *ClientConn) { c.Helo = "mx.example.org" }, []string{"HELO_LOCAL_NAME"}},
		{"clean.eml", func(c *ClientConn) { c.Helo = "EXAMPLE.ORG." }, []string{"HELO_LOCAL_NAME"}},
		{"clean.eml", func(c *ClientConn) { c.Helo = "[198.51.100.7]" }, []string{"HELO_IP_MISMATCH"}},
		{"clean.eml", func(c *ClientConn) { c.Helo = "[192.0.2.10]" }, nil},
		{"clean.eml", func(c *ClientConn) {
			c.ClientIP = netip.MustParseAddr("2001:db8::1")
			c.Helo = "[IPv6:2001:db8::2]"
		}, []string{"HELO_IP_MISMATCH"}},
		{"clean.eml", func(c *ClientConn) {
			c.ClientIP = netip.MustParseAddr("2001:db8::1")
			c.Helo = "[IPv6:2001:DB8::1]"
		}, nil},
		{"clean.eml", func(c *ClientConn) { c.Helo = "mx.example.org"; c.SetRelayClient(true) }, nil},
		{"forged_received.eml", nil, []string{"FORGED_RECEIVED"}},
		{"forged_received.eml", func(c *ClientConn) { c.SetRelayClient(true) }, nil},
		{"header_8bit.eml", nil, []string{"HEADER_8BIT"}},
		{"html_only.eml", nil, []string{"MIME_HTML_ONLY"}},
		{"html_only_multipart.eml", nil, []string{"MIME_HTML_ONLY"}},
		{"subject_caps.eml", nil, []string{"SUBJ_ALL_CAPS"}},
		{"subject_caps_encoded.eml", nil, []string{"SUBJ_ALL_CAPS"}},
		{"many_recipients.eml", nil, []string{"MANY_RECIPIENTS"}},
		{"gtube.eml", nil, []string{"GTUBE"}},
		{"gtube_base64.eml", nil, []string{"GTUBE"}},
		{"gtube_qp.eml", nil, []string{"GTUBE"}},
		{"gtube_rfc822.eml", nil, []string{"GTUBE"}},
	}
	c := testChecks(ChecksConfig{})
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tx := outsideTx()
			if tt.conn != nil {
				tt.conn(tx.Conn)
			}
			v := c.CheckMessage(context.Background(), tx, loadMessage(t, tt.file))
			if v.Action != Continue {
				t.Fatalf("action = %v %q, want continue", v.Action, v.Reply)
			}
			if got := testNames(v); !slices.Equal(got, tt.want) {
				t.Errorf("tests = %v, want %v (%s)", got, tt.want, v.Reason)
			}
		})
	}
}

func TestHeader8BitWithSMTPUTF8(t *testing.T) {
	tx := outsideTx()
	tx.SMTPUTF8 = true
	v := testChecks(ChecksConfig{}).CheckMessage(context.Background(), tx, loadMessage(t, "header_8bit.eml"))
	if slices.Contains(testNames(v), "HEADER_8BIT") {
		t.Errorf("HEADER_8BIT fired on an SMTPUTF8 transaction: %v", testNames(v))
	}
}

func TestGTUBEScoresThousand(t *testing.T) {
	v := testChecks(ChecksConfig{}).CheckMessage(context.Background(), outsideTx(), loadMessage(t, "gtube.eml"))
	if v.Points() != 1000 {
		t.Errorf("GTUBE message scores %v, want 1000", v.Points())
	}
}

func TestWeightZeroTurnsTestOff(t *testing.T) {
	c := testChecks(ChecksConfig{Weights: map[string]float64{"MISSING_DATE": 0}})
	v := c.CheckMessage(context.Background(), outsideTx(), loadMessage(t, "missing_date.eml"))
	if !v.IsPass() {
		t.Errorf("MISSING_DATE at weight 0 still fired: %v", v.Scores)
	}
}

func TestMilterOwnReceivedIsNotForged(t *testing.T) {
	// In milter mode the MTA's own Received line, carrying the queue id of
	// this transaction, is already in the header.
	m := loadMessage(t, "forged_received.eml")
	tx := NewTransaction(&ClientConn{ClientIP: netip.MustParseAddr("203.0.113.9"), Helo: "[203.0.113.9]"}, "1A2B3C")
	v := testChecks(ChecksConfig{}).CheckMessage(context.Background(), tx, m)
	if slices.Contains(testNames(v), "FORGED_RECEIVED") {
		t.Errorf("the current hop's own Received counted as forged")
	}
}

func TestGTUBEMatcherAcrossWrites(t *testing.T) {
	msg := "prefix " + gtubeString + " suffix"
	for size := 1; size <= len(msg); size++ {
		g := &gtubeMatcher{}
		for i := 0; i < len(msg); i += size {
			g.Write([]byte(msg[i:min(i+size, len(msg))]))
		}
		if !g.found {
			t.Fatalf("not found when written %d bytes at a time", size)
		}
	}
	g := &gtubeMatcher{}
	g.Write([]byte(gtubeString[:30]))
	g.Write([]byte("x"))
	g.Write([]byte(gtubeString[30:]))
	if g.found {
		t.Error("found a string that was interrupted")
	}
}

func TestMIMELimits(t *testing.T) {
	// 30 nested multiparts, the GTUBE string decoded only at the bottom.
	depth := 30
	m := NewMessage(nestedMessage(depth))
	f, err := walkBody(context.Background(), m, MIMELimits{MaxDepth: 5, MaxParts: 100, MaxDecodedBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if f.limit == "" || f.gtube {
		t.Errorf("depth limit: limit=%q gtube=%v; want the walk stopped before the bottom", f.limit, f.gtube)
	}
	f, _ = walkBody(context.Background(), m, MIMELimits{MaxDepth: 40, MaxParts: 100, MaxDecodedBytes: 1 << 20})
	if f.limit != "" || !f.gtube {
		t.Errorf("within limits: limit=%q gtube=%v; want the decoded GTUBE found", f.limit, f.gtube)
	}
	f, _ = walkBody(context.Background(), m, MIMELimits{MaxDepth: 40, MaxParts: 10, MaxDecodedBytes: 1 << 20})
	if f.limit == "" {
		t.Errorf("part limit not reached")
	}
	f, _ = walkBody(context.Background(), m, MIMELimits{MaxDepth: 40, MaxParts: 100, MaxDecodedBytes: 10})
	if f.gtube {
		t.Errorf("decoded-size limit not applied")
	}
}

// nestedMessage builds multiparts nested depth deep, with a base64 text part
// holding the GTUBE string at the bottom.
func nestedMessage(depth int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.net\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	fmt.Fprintf(&b, "--b%d\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n%s\n", depth, base64.StdEncoding.EncodeToString([]byte(gtubeString)))
	for i := depth; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return []byte(b.String())
}

// TestBigMessageStreams checks a 20 MB message spooled to disk: the checks
// read it as a stream, so what they allocate stays far below its size, and
// a GTUBE string at its very end is still found.
func TestBigMessageStreams(t *testing.T) {
	s := NewSpool(SpoolConfig{MemLimit: 1 << 20, Dir: t.TempDir()})
	defer s.Close()
	head := "From: a@example.net\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big@example.net>\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	s.Write([]byte(head))
	line := []byte(strings.Repeat("QUFB", 19) + "\r\n") // 76 columns of "AAA..."
	for written := 0; written < 20<<20; written += len(line) {
		s.Write(line)
	}
	s.Write([]byte("--b--\r\n" + gtubeString + "\r\n"))
	m, err := s.Message()
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := testChecks(ChecksConfig{}).CheckMessage(context.Background(), outsideTx(), m)
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("checked %d bytes, allocated %d", m.Size, got)
	if got > 4<<20 {
		t.Errorf("checking a %d MB message allocated %d bytes; it should stream", m.Size>>20, got)
	}
	if !slices.Contains(testNames(v), "GTUBE") {
		t.Errorf("GTUBE at the end of a 20 MB message not found: %v", testNames(v))
	}
}

func TestForgedReceivedNeedsFullName(t *testing.T) {
	m := NewMessage([]byte("Received: from a by localhost with SMTP; Fri, 27 Nov 2026 09:00:00 +0000\r\nFrom: a@example.net\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@example.net>\r\n\r\nhi\r\n"))
	v := testChecks(ChecksConfig{Hostname: "localhost"}).CheckMessage(context.Background(), outsideTx(), m)
	if slices.Contains(testNames(v), "FORGED_RECEIVED") {
		t.Error(`"by localhost" counted as forged when the gateway is named localhost`)
	}
}

// MalformedKind names the configuration key of the fault a refusal is
// for, and nothing for other verdicts.
func TestMalformedKind(t *testing.T) {
	c := NewMessageChecks(ChecksConfig{})
	mc := c.(MessageChecker)
	for msg, want := range map[string]string{
		"From: a@example.org\nSubject: x\nSubject: y\n\nbody\n": "duplicate_header",
		"Subject: x\n\nbody\n":                      "missing_from",
		"From: a@example.org\nSubject: x\n\nbody\n": "",
	} {
		v := mc.CheckMessage(context.Background(), NewTransaction(&ClientConn{}, "Q"), NewMessage([]byte(msg)))
		if got := MalformedKind(v); got != want {
			t.Errorf("%q: kind %q, want %q (verdict %+v)", msg, got, want, v)
		}
	}
	if got := MalformedKind(Refuse(ReplySpam.Format("x"), "score")); got != "" {
		t.Errorf("a spam refusal: kind %q", got)
	}
}
