package classifier

import (
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// TestToUTF8ASCIIShortcut: in every charset toUTF8 passes ASCII text
// through unconverted, the charset's own decoder gives the text unchanged;
// the charsets mail declares most are among them, EBCDIC is not.
func TestToUTF8ASCIIShortcut(t *testing.T) {
	ascii := make([]byte, 0, 128)
	for c := range byte(128) {
		ascii = append(ascii, c)
	}
	taken := 0
	for cm, ok := range asciiCharmaps {
		if !ok {
			continue
		}
		taken++
		if got, err := cm.NewDecoder().Bytes(ascii); err != nil || string(got) != string(ascii) {
			t.Errorf("%v: decoder gives %q (%v)", cm, got, err)
		}
	}
	if taken < 30 {
		t.Errorf("only %d charmaps map ASCII to itself", taken)
	}
	if asciiCharmaps[charmap.CodePage037] {
		t.Error("EBCDIC taken for ASCII")
	}
	for _, tc := range []struct{ text, charset, want string }{
		{"plain text", "iso-8859-1", "plain text"},
		{"plain text", "KOI8-R", "plain text"},
		{"caf\xe9", "iso-8859-1", "café"},
		{"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r", "Привет"},
		{"\x1b$B$3\x1b(B", "iso-2022-jp", "こ"},
	} {
		if cm, ok := lookupCharset(tc.charset).(*charmap.Charmap); ok && !asciiCharmaps[cm] {
			t.Errorf("%s: not taken by the shortcut", tc.charset)
		}
		if got := toUTF8([]byte(tc.text), tc.charset); got != tc.want {
			t.Errorf("toUTF8(%q, %s) = %q, want %q", tc.text, tc.charset, got, tc.want)
		}
	}
}
