package authres

import (
	"strings"
	"testing"

	"mailguard/filters"
)

func TestScanFroms(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"From: a@example.com\r\nTo: b@example.org\r\n\r\nFrom: body@example.net\r\n", []string{"a@example.com"}},
		{"from : A <a@example.com>,\r\n\tb@example.net\r\nX: 1\r\nFROM: c@example.org\r\n\r\n", []string{"A <a@example.com>,\tb@example.net", "c@example.org"}},
		{"X-From: a@example.com\nFrom: b@example.com\n\nbody\n", []string{"b@example.com"}},
		{"X: " + long + "\r\nFrom: a@example.com\r\n", []string{"a@example.com"}},
		{"not a field\r\nFrom: a@example.com\r\n\r\n", []string{"a@example.com"}},
		{"From: " + long + "\r\n\r\n", []string{long[:maxFromBytes-1]}},
		{"", nil},
	} {
		got, err := scanFroms(strings.NewReader(tc.in))
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("scanFroms(%.40q) = %.80q, %v; want %.80q", tc.in, got, err, tc.want)
		}
	}
}

// An author named after the part of the header the checks parse is still
// evaluated: a forged From cannot hide behind a megabyte of fields.
func TestDMARCFromPastTheParsedHeader(t *testing.T) {
	e := setup(t)
	c := newChecker(t, e, Config{RejectDMARC: true})
	var pad strings.Builder
	for pad.Len() < 1100<<10 {
		pad.WriteString("X-Pad: " + strings.Repeat("p", 900) + "\r\n")
	}
	msg := []byte("From: helper@example.org\r\n" + pad.String() + "From: ceo@example.com\r\n" +
		"Subject: wire transfer\r\n\r\nPay now.\r\n")
	if m := filters.NewMessage(msg); !m.HeaderTruncated || m.Header.Count("From") != 1 {
		t.Fatalf("the test needs a header past the parse bound (truncated %v, %d From)", m.HeaderTruncated, m.Header.Count("From"))
	}
	o := run(t, c, "198.51.100.7", "h.example", "a@example.org", msg, false)
	if o.verdict.Action != filters.Reject || !strings.Contains(o.verdict.Reply.Text, "example.com") {
		t.Errorf("From past the parsed header: %v %q (header %q)", o.verdict.Action, o.verdict.Reply.Text, o.header)
	}
}

// scanFroms reads From fields as filters.ParseHeader does.
func FuzzScanFroms(f *testing.F) {
	f.Add("From: a@example.com\r\nTo: b\r\n\r\nFrom: c\r\n")
	f.Add("from : a,\r\n b\nFROM:c\n")
	f.Add("x\r\n y\r\nFrom:\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := scanFroms(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := filters.ParseHeader(strings.NewReader(in))
		if want := h.Values("From"); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("scanFroms(%q) = %q, ParseHeader says %q", in, got, want)
		}
	})
}
