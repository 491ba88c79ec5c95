package proxy

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailguard/filters"
)

func TestFilterHeader(t *testing.T) {
	stripMe := func(name, value string) bool { return name == "X-Strip" && value == "this one" }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\nbody\r\n"},
		{"spam fields go, any case", "X-Spam-Status: Yes\r\nA: 1\r\nx-SPAM-flag: YES\r\n\r\nX-Spam-Flag: body\r\n", "A: 1\r\n\r\nX-Spam-Flag: body\r\n"},
		{"folded spam field goes whole", "X-Spam-Report: a\r\n b\r\n\tc\r\nA: 1\r\n\r\n", "A: 1\r\n\r\n"},
		{"strip by value, unfolded", "X-Strip: this\r\n one\r\nX-Strip: that\r\n\r\n", "X-Strip: that\r\n\r\n"},
		{"LF line ends kept", "A: 1\nX-Spam-X: 2\nB: 3\n\nbody\n", "A: 1\nB: 3\n\nbody\n"},
		{"no body", "A: 1\r\nX-Spam-X: 2\r\n", "A: 1\r\n"},
		{"no final line end", "A: 1\r\nB: 2", "A: 1\r\nB: 2"},
		{"fault lines kept", "not a field\r\n continuation of nothing\r\nA: 1\r\n\r\n", "not a field\r\n continuation of nothing\r\nA: 1\r\n\r\n"},
		{"space before colon", "X-Spam-Flag : YES\r\nA: 1\r\n\r\n", "A: 1\r\n\r\n"},
		{"empty message", "", ""},
		{"body only", "\r\nbody\r\n", "\r\nbody\r\n"},
		{"8-bit and NUL kept", "Subject: \xe9\x00\r\n\r\n\xff\r\n", "Subject: \xe9\x00\r\n\r\n\xff\r\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := writeMessage(&out, "", nil, stripMe, strings.NewReader(tt.in))
		if err != nil || out.String() != tt.want {
			t.Errorf("%s: got %q (%v), want %q", tt.name, out.String(), err, tt.want)
		}
	}
}

// Which fields go does not depend on their size: a field longer than the
// buffer is judged on its name and the start of its value, then dropped or
// passed on whole; memory stays bounded either way.
func TestFilterHeaderLongFields(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "A: " + long + "\r\nX-Spam-Status: " + long + "\r\n " + long + "\r\nX-Strip: " + long + "\r\nB: 2\r\n\r\nbody\r\n"
	var out bytes.Buffer
	strip := func(name, value string) bool { return name == "X-Strip" }
	if err := writeMessage(&out, "", nil, strip, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := "A: " + long + "\r\nB: 2\r\n\r\nbody\r\n"
	if out.String() != want {
		t.Errorf("long fields: got %d bytes, want %d", out.Len(), len(want))
	}
}

// stripOurs strips the fields a check would: Authentication-Results whose
// value starts with our authserv-id, as authres asks.
func stripOurs(name, value string) bool {
	return strings.EqualFold(name, "Authentication-Results") && (strings.HasPrefix(value, "mx.example.org;") || value == "")
}

// Every rule (X-Spam-* by name, a check's by value) holds for fields of
// every size around the buffer, folded or on one line, with CRLF or LF.
func TestFilterHeaderEverySize(t *testing.T) {
	sizes := []int{10, 998, 32<<10 - 1, 32 << 10, 64<<10 - 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 64<<10 + 100, 70 << 10, 96 << 10, 200 << 10}
	for _, eol := range []string{"\r\n", "\n"} {
		for _, folded := range []bool{false, true} {
			for _, n := range sizes {
				pad := padding(n, folded, eol)
				for _, tc := range []struct {
					field string
					drop  bool
				}{
					{"Authentication-Results: mx.example.org; dkim=pass header.d=bank.test" + pad, true},
					{"authentication-results:mx.example.org; spf=pass" + pad, true},
					{"Authentication-Results: other.example; dkim=pass" + pad, false},
					{"X-Spam-Status: Yes, score=-50" + pad, true},
					{"x-spam-flag :" + pad, true},
					{"Subject: hello" + pad, false},
				} {
					in := "A: 1" + eol + tc.field + eol + "B: 2" + eol + eol + "body" + eol
					var out bytes.Buffer
					if err := writeMessage(&out, "", nil, stripOurs, strings.NewReader(in)); err != nil {
						t.Fatal(err)
					}
					want := in
					if tc.drop {
						want = "A: 1" + eol + "B: 2" + eol + eol + "body" + eol
					}
					if out.String() != want {
						t.Errorf("%.40q (%d bytes, folded %v, eol %q): got %d bytes, want %d (dropped: %v)",
							tc.field, len(tc.field), folded, eol, out.Len(), len(want), tc.drop)
					}
				}
			}
		}
	}
}

// padding is n bytes of field value: one long line, or folded lines of
// 70 octets.
func padding(n int, folded bool, eol string) string {
	if !folded {
		return " (" + strings.Repeat("p", n) + ")"
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(eol + "\t(" + strings.Repeat("p", 66) + ")")
	}
	return b.String()
}

// A line so long that its colon comes after the buffer is judged on its
// start: a name followed by white space only is still that name.
func TestFilterHeaderLongName(t *testing.T) {
	for _, tc := range []struct {
		line string
		drop bool
	}{
		{"X-Spam-" + strings.Repeat("A", 100<<10) + ": Yes", true},
		{"Authentication-Results" + strings.Repeat(" ", 100<<10) + ": mx.example.org; dkim=pass", true},
		{"X-Other" + strings.Repeat("A", 100<<10) + ": Yes", false},
		{"not a field " + strings.Repeat("A", 100<<10) + ": Yes", false},
	} {
		in := "A: 1\r\n" + tc.line + "\r\nB: 2\r\n\r\nbody\r\n"
		var out bytes.Buffer
		if err := writeMessage(&out, "", nil, stripOurs, strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		want := in
		if tc.drop {
			want = "A: 1\r\nB: 2\r\n\r\nbody\r\n"
		}
		if out.String() != want {
			t.Errorf("%.30q: got %d bytes, want %d", tc.line, out.Len(), len(want))
		}
	}
}

func TestAddedFields(t *testing.T) {
	var out bytes.Buffer
	tests := strings.Repeat("SOME_LONG_TEST_NAME=1.0,", 10) + "LAST=1.0"
	added := []filters.Field{{Name: "X-Spam-Status", Value: "Yes, score=11.0 required=5.0 tests=" + tests}, {Name: "X-Evil", Value: "a\r\nInjected: yes"}}
	writeMessage(&out, "Received: x\r\n", added, nil, strings.NewReader("A: 1\r\n\r\nb\r\n"))
	s := out.String()
	if !strings.HasPrefix(s, "Received: x\r\nX-Spam-Status: Yes,") || strings.Contains(s, "\r\nInjected") {
		t.Errorf("added fields:\n%s", s)
	}
	// Folded lines stay short, and unfolding gives the value back.
	h, _ := filters.ParseHeader(strings.NewReader(s))
	noSpace := strings.NewReplacer(" ", "", "\t", "")
	if got := h.Get("X-Spam-Status"); noSpace.Replace(got) != noSpace.Replace(added[0].Value) || !strings.HasPrefix(got, "Yes, score=11.0 required=5.0 tests=") {
		t.Errorf("unfolded X-Spam-Status %q, want %q", got, added[0].Value)
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if len(sc.Text()) > 78 {
			t.Errorf("line of %d octets: %q", len(sc.Text()), sc.Text())
		}
	}
}

func TestReceived(t *testing.T) {
	date := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		ri   receivedInfo
		want string
	}{
		{receivedInfo{Helo: "client.example", ClientName: "mail.example.com", ClientIP: netip.MustParseAddr("192.0.2.1"), Hostname: "mx.test",
			Protocol: "ESMTPS", QueueID: "ABCDEF123456", Rcpts: []string{"u@example.org"}, Date: date},
			"Received: from client.example (mail.example.com [192.0.2.1])\r\n\tby mx.test (mailguard) with ESMTPS id ABCDEF123456\r\n\tfor <u@example.org>; Fri, 27 Nov 2026 04:00:00 +0000 (UTC)\r\n"},
		{receivedInfo{Helo: "[2001:db8::1]", ClientIP: netip.MustParseAddr("2001:db8::1"), Hostname: "mx.test",
			Protocol: "SMTP", QueueID: "ABCDEF123456", Rcpts: []string{"a@x", "b@x"}, Date: date},
			"Received: from [2001:db8::1] (unknown [IPv6:2001:db8::1])\r\n\tby mx.test (mailguard) with SMTP id ABCDEF123456; Fri, 27 Nov 2026 04:00:00 +0000 (UTC)\r\n"},
	}
	for _, tt := range tests {
		if got := received(tt.ri); got != tt.want {
			t.Errorf("got\n%q\nwant\n%q", got, tt.want)
		}
	}
}

func TestProtocol(t *testing.T) {
	tests := []struct {
		esmtp, tls bool
		user       string
		want       string
	}{
		{false, false, "", "SMTP"}, {true, false, "", "ESMTP"}, {true, true, "", "ESMTPS"}, {true, true, "bob", "ESMTPSA"},
	}
	for _, tt := range tests {
		c := &filters.ClientConn{ESMTP: tt.esmtp, TLS: tt.tls, AuthUser: tt.user}
		if got := protocol(c); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt, got, tt.want)
		}
	}
}

// FuzzFilterHeader checks what the rewrite promises for any input: no
// X-Spam-* field survives in the header section, nothing is invented, and
// the body is untouched.
func FuzzFilterHeader(f *testing.F) {
	for _, s := range []string{
		"A: 1\r\nX-Spam-Flag: YES\r\n\r\nbody\r\n",
		"X-Spam-Status: a\r\n b\r\nB: 2\n\nX-Spam-Flag: body\n",
		"bad line\r\n cont\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("Authentication-Results: mx.example.org; x\r\n\tmore\r\nAuthentication-Results: o; y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := writeMessage(&out, "", nil, stripOurs, bytes.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		// Exactly the fields no rule condemns are kept, byte for byte.
		hin, _ := filters.ParseHeader(bytes.NewReader(in))
		hout, _ := filters.ParseHeader(bytes.NewReader(out.Bytes()))
		var kept []string
		for _, fld := range hin {
			if !isSpamField(fld.Name) && !stripOurs(fld.Name, fld.Value) {
				kept = append(kept, string(fld.Raw))
			}
		}
		var gotFields []string
		for _, fld := range hout {
			gotFields = append(gotFields, string(fld.Raw))
		}
		if strings.Join(kept, "|") != strings.Join(gotFields, "|") {
			t.Fatalf("fields kept %q, want %q", gotFields, kept)
		}
		got := out.Bytes()
		if len(got) > len(in) {
			t.Fatalf("output longer than input")
		}
		h, _ := filters.ParseHeader(bytes.NewReader(got))
		for _, fld := range h {
			if isSpamField(fld.Name) {
				t.Fatalf("X-Spam field survived: %q", fld.Raw)
			}
		}
		// The body (after the first blank line) is unchanged.
		if i := blankLineEnd(in); i >= 0 {
			j := blankLineEnd(got)
			if j < 0 || !bytes.Equal(in[i:], got[j:]) {
				t.Fatalf("body changed")
			}
		}
	})
}

// blankLineEnd returns the offset after the first empty line, or -1.
func blankLineEnd(b []byte) int {
	start := 0
	for start <= len(b) {
		i := bytes.IndexByte(b[start:], '\n')
		if i < 0 {
			return -1
		}
		line := b[start : start+i]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return start + i + 1
		}
		start += i + 1
	}
	return -1
}
