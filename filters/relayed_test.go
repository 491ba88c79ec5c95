package filters

import (
	"fmt"
	"strings"
	"testing"
)

// FormatField's promise: unfolding gives the value back exactly, but for
// a space after each comma where a long list was folded; lines stay
// within 78 octets where the value has a place to fold; no line is only
// white space.
func TestFormatField(t *testing.T) {
	list := func(n int) string {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("TEST_NUMBER_%02d=1.0", i)
		}
		return strings.Join(names, ",")
	}
	for _, tc := range []struct {
		value string
		exact bool // no fold inside the list: unfolding gives the value back
	}{
		{"No, score=0.0 required=5.0 tests=none", true},
		{"No, score=0.0 required=5.0 tests=" + list(2), true},
		{"Yes, score=30.0 required=5.0 tests=" + list(30), false},
		{"Yes, score=30.0 required=5.0 tests=" + list(3) + " " + list(40), false},
		{"mx.example.org; dmarc=fail (p=reject  x ) header.from=example.com; " + strings.Repeat("word  ", 30), true},
		{"  leading and trailing  ", true},
		{strings.Repeat("x", 120) + " y", true},
	} {
		out := FormatField(Field{Name: "X-Spam-Status", Value: tc.value})
		body, ok := strings.CutPrefix(out, "X-Spam-Status: ")
		if !ok || !strings.HasSuffix(body, "\r\n") {
			t.Fatalf("field %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for i, l := range lines {
			if strings.TrimSpace(l) == "" {
				t.Errorf("%.30q: a line of white space only", tc.value)
			}
			text := strings.TrimSpace(l)
			if i == 0 {
				text = strings.TrimSpace(strings.TrimPrefix(l, "X-Spam-Status:"))
			}
			if len(strings.TrimRight(l, " ")) > 78 && strings.Contains(text, " ") {
				t.Errorf("%.30q: line of %d octets with a place to fold: %q", tc.value, len(l), l)
			}
		}
		unfolded := strings.ReplaceAll(strings.TrimSuffix(body, "\r\n"), "\r\n", "")
		if tc.exact {
			if unfolded != tc.value {
				t.Errorf("unfolded\n%q\nwant\n%q", unfolded, tc.value)
			}
			continue
		}
		// Only spaces after commas are added.
		if strings.ReplaceAll(unfolded, ", ", ",") != strings.ReplaceAll(tc.value, ", ", ",") || len(unfolded) < len(tc.value) {
			t.Errorf("unfolded\n%q\nwant, but for spaces after commas,\n%q", unfolded, tc.value)
		}
	}
}
