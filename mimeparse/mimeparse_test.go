package mimeparse

import (
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestContentType(t *testing.T) {
	tests := []struct {
		name, ctype, parent string
		want                string
		params              map[string]string
	}{
		{"absent", "", "", "text/plain", nil},
		{"absent in a digest", " ", "digest", "message/rfc822", nil},
		{"strict", `Multipart/Mixed; boundary="b"; charset=x`, "", "multipart/mixed", map[string]string{"boundary": "b", "charset": "x"}},
		{"no slash", "garbage;;", "", "text/plain", nil},
		{"no slash in a digest", "garbage; x", "digest", "message/rfc822", nil},
		{"unquoted = in boundary", `multipart/alternative; boundary=----=_NextPart_000_0001`, "", "multipart/alternative", map[string]string{"boundary": "----=_NextPart_000_0001"}},
		{"name kept beside a broken parameter", `application/octet-stream; name="evil.exe"; x`, "", "application/octet-stream", map[string]string{"name": "evil.exe"}},
		{"quoted boundary holding ;", `multipart/mixed; boundary="a;b"; foo=`, "", "multipart/mixed", map[string]string{"boundary": "a;b"}},
		{"unterminated quote", `multipart/mixed; boundary="unterminated; x=`, "", "multipart/mixed", map[string]string{"boundary": "unterminated"}},
		{"duplicate parameter", `text/plain; charset=a; charset=b`, "", "text/plain", map[string]string{"charset": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt, params := ContentType(tt.ctype, tt.parent)
			if mt != tt.want {
				t.Errorf("type %q, want %q", mt, tt.want)
			}
			if tt.params != nil && !maps.Equal(params, tt.params) {
				t.Errorf("params %v, want %v", params, tt.params)
			}
		})
	}
}

func TestMediaType(t *testing.T) {
	tests := []struct {
		v, want string
		params  map[string]string
	}{
		{"", "", nil},
		{"attachment; filename=a.pdf", "attachment", map[string]string{"filename": "a.pdf"}},
		{`ATTACHMENT; filename="a b.pdf"; size=`, "attachment", map[string]string{"filename": "a b.pdf"}},
		{"inline", "inline", map[string]string{}},
	}
	for _, tt := range tests {
		mt, params := MediaType(tt.v)
		if mt != tt.want || tt.params != nil && !maps.Equal(params, tt.params) {
			t.Errorf("MediaType(%q) = %q %v, want %q %v", tt.v, mt, params, tt.want, tt.params)
		}
	}
}

func TestLooseBoundary(t *testing.T) {
	tests := []struct{ ctype, want string }{
		{`multipart/mixed; boundary="a b"`, "a b"},
		{`multipart/alternative; boundary=----=_NextPart_000_0001`, "----=_NextPart_000_0001"},
		{`multipart/mixed; BOUNDARY = x; charset=y`, "x"},
		{`multipart/mixed; xboundary; boundary=z`, "z"},
		{`multipart/mixed; boundary="unterminated`, ""},
		{`multipart/mixed`, ""},
		{"/\xffBoundArY", ""}, // found by FuzzMIMEWalk: non-UTF-8 before the name
		{"\xff\xfeboundary=q", "q"},
	}
	for _, tt := range tests {
		if got := looseBoundary(tt.ctype); got != tt.want {
			t.Errorf("looseBoundary(%q) = %q, want %q", tt.ctype, got, tt.want)
		}
	}
}

// FuzzMediaType: any value parses without panic; the type is lower case
// when it was valid UTF-8, a default type always has a "/", and no
// parameter has an empty name.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"", "text/plain", `multipart/mixed; boundary="a;b"`, "attachment; filename=x", "a;b=;=c;boundary", "\xff\xfeboundary=q"} {
		f.Add(s, "")
	}
	f.Add("x", "digest")
	f.Fuzz(func(t *testing.T, v, parent string) {
		mt, params := ContentType(v, parent)
		if mt == "" {
			t.Fatalf("ContentType(%q) gave no type", v)
		}
		if utf8.ValidString(mt) && mt != strings.ToLower(mt) && !strings.ContainsFunc(mt, func(r rune) bool { return r > 127 }) {
			t.Errorf("ContentType(%q) = %q, not lower case", v, mt)
		}
		for k := range params {
			if k == "" {
				t.Errorf("ContentType(%q) has a parameter without name", v)
			}
		}
		MediaType(v)
	})
}
