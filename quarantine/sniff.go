package quarantine

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"

	"mailguard/filters"
)

// maxSniff bounds the header bytes kept to find From and Subject.
const maxSniff = 64 << 10

// sniffer passes a message through while keeping the start of its header
// section, so a store can fill in From and Subject without reading the
// message twice or holding more than maxSniff bytes of it.
type sniffer struct {
	r    io.Reader
	head bytes.Buffer
	n    int64
}

func (s *sniffer) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if room := maxSniff - s.head.Len(); room > 0 && n > 0 {
		s.head.Write(p[:min(n, room)])
	}
	return n, err
}

// fill sets e's Size, From and Subject from what passed through.
func (s *sniffer) fill(e *Entry) {
	e.Size = s.n
	h, _ := filters.ParseHeader(bytes.NewReader(s.head.Bytes()))
	e.From = DecodeHeader(h.Get("From"))
	e.Subject = DecodeHeader(h.Get("Subject"))
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// DecodeHeader returns a header field's value as UTF-8 text for display:
// RFC 2047 encoded words decoded (an unknown charset leaves its word as
// it is), raw 8-bit bytes that are not UTF-8 read as Windows-1252 (what
// mail clients guess for them), control characters made spaces and
// folding undone.
func DecodeHeader(v string) string {
	if !utf8.ValidString(v) {
		if d, err := charmap.Windows1252.NewDecoder().String(v); err == nil {
			v = d
		} else {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	return strings.Join(strings.Fields(v), " ")
}
