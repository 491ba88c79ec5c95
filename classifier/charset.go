package classifier

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// lookupCharset finds a decoder by the names mail uses, which are those
// browsers accept (the WHATWG encoding index). nil means UTF-8 or unknown.
func lookupCharset(name string) encoding.Encoding {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default":
		return nil
	}
	e, err := htmlindex.Get(name)
	if err != nil {
		return nil
	}
	return e
}

// toUTF8 converts text in charset to valid UTF-8. Text declared as UTF-8
// (or not declared) that is not valid UTF-8 is read as Windows-1252, as
// mail readers do.
func toUTF8(b []byte, charset string) string {
	if e := lookupCharset(charset); e != nil {
		if cm, ok := e.(*charmap.Charmap); ok && asciiCharmaps[cm] && isASCII(b) {
			// What the decoder would give, without its copies.
			return string(b)
		}
		if out, err := e.NewDecoder().Bytes(b); err == nil {
			return string(out)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	if out, err := charmap.Windows1252.NewDecoder().Bytes(b); err == nil {
		return string(out)
	}
	return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
}

// charsetReader serves mime.WordDecoder.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	e := lookupCharset(charset)
	if e == nil {
		name := strings.ToLower(charset)
		if name == "utf-8" || name == "utf8" || name == "us-ascii" || name == "ascii" {
			return r, nil
		}
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	// Decoded at once and handed back as a bytes.Reader: mime.WordDecoder
	// copies what it is given with io.Copy, which gives a reader without
	// WriteTo, as the decoder's own, a 32 KB buffer of its own for every
	// encoded word. TestCharsetReaderMatchesStreaming holds the two to
	// the same text.
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(out), nil
}

// asciiCharmaps are the single-byte charsets (ISO 8859-*, Windows-125*,
// KOI8-*, ...) that map every ASCII byte to itself, byte by byte: in them
// ASCII text decodes to itself. Most text declared ISO-8859-1 is ASCII.
var asciiCharmaps = func() map[*charmap.Charmap]bool {
	m := map[*charmap.Charmap]bool{}
	for _, e := range charmap.All {
		cm, ok := e.(*charmap.Charmap)
		if !ok {
			continue
		}
		same := true
		for c := range byte(utf8.RuneSelf) {
			if cm.DecodeByte(c) != rune(c) {
				same = false
				break
			}
		}
		m[cm] = same
	}
	return m
}()

// isASCII reports whether b is all ASCII, eight bytes at a time.
func isASCII[T string | []byte](b T) bool {
	var or uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		// One load: the compiler merges the eight.
		or |= uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
			uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
	}
	for ; i < len(b); i++ {
		or |= uint64(b[i])
	}
	return or&0x8080808080808080 == 0
}
