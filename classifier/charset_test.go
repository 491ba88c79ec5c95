package classifier

import (
	"bytes"
	"io"
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

// streamingDecode is what charsetReader gave before: the charset's
// decoder as a stream.
func streamingDecode(charset string, b []byte) ([]byte, error) {
	return io.ReadAll(lookupCharset(charset).NewDecoder().Reader(bytes.NewReader(b)))
}

// checkCharsetReader holds charsetReader to the streaming decoder.
func checkCharsetReader(t *testing.T, charset string, b []byte) {
	t.Helper()
	want, werr := streamingDecode(charset, b)
	r, err := charsetReader(charset, bytes.NewReader(b))
	var got []byte
	if err == nil {
		got, err = io.ReadAll(r)
	}
	if (err == nil) != (werr == nil) || (err == nil && !bytes.Equal(got, want)) {
		t.Fatalf("%s %q: %q (%v), streaming %q (%v)", charset, b, got, err, want, werr)
	}
}

var decoderCharsets = []string{"koi8-r", "windows-1252", "iso-8859-2", "gb2312", "gb18030", "big5",
	"shift_jis", "euc-jp", "iso-2022-jp", "euc-kr", "utf-16le", "utf-16be", "windows-1251"}

func TestCharsetReaderMatchesStreaming(t *testing.T) {
	for _, cs := range decoderCharsets {
		for _, b := range []string{"", "plain", "\xf0\xd2\xc9\xd7\xc5\xd4", "\x1b$B$3\x1b(B", "\x1b$B$3",
			"\x82\xa0\x82", "\xa4\xa4\xa4", "\x81\x30\x81", "\x00a\x00", "\xff\xfe\xfd", "abc\x8e"} {
			checkCharsetReader(t, cs, []byte(b))
		}
	}
	// The word decoder's answers with it, in a charset it hands over.
	d, err := wordDecoder.DecodeHeader("=?koi8-r?B?8NLJ18XU?= =?shift_jis?B?grGC8YLJgr+CzQ==?=")
	if err != nil || d != "Приветこんにちは" {
		t.Errorf("DecodeHeader = %q, %v", d, err)
	}
}

// FuzzCharsetReader: charsetReader gives what the streaming decoder gives
// for any bytes in any of the charsets tried. Seeds are
// testdata/fuzz/FuzzCharsetReader.
func FuzzCharsetReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		checkCharsetReader(t, decoderCharsets[int(which)%len(decoderCharsets)], b)
	})
}

func TestIsASCII(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"a", true}, {"abcdefgh", true}, {"abcdefghijklmnopq", true},
		{"abcdefg\x80", false}, {"\x80abcdefgh", false}, {"abcdefghijklmnop\xff", false},
		{"héllo, then plain ASCII for a while", false}, {"\x7f\x00\x01 control", true},
	} {
		if got := isASCII(c.s); got != c.want {
			t.Errorf("isASCII(%q) = %v", c.s, got)
		}
		if got := isASCII([]byte(c.s)); got != c.want {
			t.Errorf("isASCII([]byte(%q)) = %v", c.s, got)
		}
	}
}
