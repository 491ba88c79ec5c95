package filters

import (
	"bytes"
	"strings"
	"testing"
)

// TestContainsGTUBE holds containsGTUBE to bytes.Contains on the string at
// every place, cut short at either end, with its core alone, twice, and
// overlapping a false start.
func TestContainsGTUBE(t *testing.T) {
	g := gtubeString
	inputs := []string{"", g, g[1:], g[:len(g)-1], string(gtubeCore), "x" + g + "y", g + g,
		g[:gtubeCoreAt] + g[:gtubeCoreAt] + g[gtubeCoreAt:], strings.Repeat("*GTUBE-STANDARD", 9) + g,
		strings.Replace(g, "C.34X", "C.35X", 1)}
	for pad := range 80 {
		inputs = append(inputs, strings.Repeat("a", pad)+g+strings.Repeat("b", 80-pad), strings.Repeat("a", pad)+g[:pad%len(g)])
	}
	for _, in := range inputs {
		if got, want := containsGTUBE([]byte(in)), bytes.Contains([]byte(in), gtube); got != want {
			t.Errorf("containsGTUBE(%q) = %v, want %v", in, got, want)
		}
	}
}
