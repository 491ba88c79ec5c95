package relay

import (
	"strings"
	"testing"
)

// longHelo is a HELO name a client may send: 2000 octets, every one of
// them escaped in xtext.
var longHelo = strings.Repeat("\xc3\xa9", 1000)

// TestXTextCappedOnePass: the capped encoding of a long value is made in
// one pass, not re-encoded once for every octet cut off (a client's long
// HELO name cost about 280 ms of CPU at each MAIL FROM that way), and it
// is the longest start of the value that fits.
func TestXTextCappedOnePass(t *testing.T) {
	if a := testing.AllocsPerRun(10, func() { xtextCapped(longHelo, maxAttrLen) }); a > 1 {
		t.Errorf("xtextCapped of a %d-octet value: %v allocations, want 1", len(longHelo), a)
	}
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{longHelo, maxAttrLen, strings.Repeat("+C3+A9", 42) + "+C3"},
		{"ab+cd", 4, "ab"},
		{"ab+cd", 5, "ab+2B"},
		{"abc", 0, ""},
		{"mx.example.org", maxAttrLen, "mx.example.org"},
	}
	for _, tt := range tests {
		if got := xtextCapped(tt.s, tt.n); got != tt.want {
			t.Errorf("xtextCapped(%.20q, %d) = %.40q, want %.40q", tt.s, tt.n, got, tt.want)
		}
	}
}

func BenchmarkXTextCappedLongHelo(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		xtextCapped(longHelo, maxAttrLen)
	}
}
