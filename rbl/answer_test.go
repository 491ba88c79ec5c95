package rbl

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCodesAndAnswersAgree checks that a code the configuration accepts is
// an answer List.counts takes as a listing, and that what ParseCode refuses
// is never one, so validation and lookups apply one rule.
func TestCodesAndAnswersAgree(t *testing.T) {
	tests := []struct {
		s      string
		ok     bool
		errHas string
	}{
		{"127.0.0.2", true, ""},
		{" 127.0.0.10 ", true, ""},
		{"127.1.2.3", true, ""},
		{"127.255.255.254", false, "query refused"},
		{"127.255.255.252", false, "query refused"},
		{"10.0.0.2", false, "not a list answer"},
		{"nonsense", false, "not a list answer"},
	}
	any := &List{}
	for _, tt := range tests {
		a, err := ParseCode(tt.s)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("ParseCode(%q) = %v, %v; want ok %v, error with %q", tt.s, a, err, tt.ok, tt.errHas)
			continue
		}
		raw, perr := netip.ParseAddr(strings.TrimSpace(tt.s))
		if perr != nil {
			continue
		}
		if listed, _ := any.counts(raw); listed != tt.ok {
			t.Errorf("answer %s: listed = %v, but ParseCode accepts it: %v", tt.s, listed, tt.ok)
		}
		if tt.ok {
			narrowed := &List{Codes: []netip.Addr{a}}
			if listed, _ := narrowed.counts(raw); !listed {
				t.Errorf("answer %s is not a listing on a list with that code", tt.s)
			}
		}
	}
}

func TestParseMask(t *testing.T) {
	tests := []struct {
		s    string
		mask uint32
		ok   bool
		err  bool
	}{
		{"", 0, false, false},
		{"0.0.0.4", 4, true, false},
		{"127.0.0.12", 12, true, false},
		{"6", 6, true, false},
		{"0x0c", 12, true, false},
		{"0", 0, false, true},
		{"0x1000000", 0, false, true},
		{"::1", 0, false, true},
		{"lots", 0, false, true},
	}
	for _, tt := range tests {
		m, ok, err := ParseMask(tt.s)
		if m != tt.mask || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("ParseMask(%q) = %#x, %v, %v; want %#x, %v, error %v", tt.s, m, ok, err, tt.mask, tt.ok, tt.err)
		}
	}
	l := &List{Mask: 0x02}
	for answer, want := range map[string]bool{"127.0.0.6": true, "127.0.0.4": false, "127.255.255.2": false} {
		if listed, _ := l.counts(netip.MustParseAddr(answer)); listed != want {
			t.Errorf("mask 0x02, answer %s: listed = %v, want %v", answer, listed, want)
		}
	}
}

// TestListingRuleOnlyHere fails when the configuration package states the
// listing ranges itself instead of calling ParseCode and ParseMask.
func TestListingRuleOnlyHere(t *testing.T) {
	files, err := filepath.Glob("../rules/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules/ sources found: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"127.255.255.0/24", "127.255.255"} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s mentions %s: what counts as a listing belongs to package rbl", f, s)
				break
			}
		}
	}
}
