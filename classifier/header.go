package classifier

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"
)

// field is one header field: its name lower-cased and where its value
// (after the colon, line ends included) lies in the header's bytes. The
// value is made a string only when asked for: most fields are never read.
type field struct {
	name       string
	start, end int32
	folded     bool // the value runs over continuation lines
}

// header is a header section's fields, in order, over its bytes.
type header struct {
	src    []byte
	fields []field
}

// value returns the value of field f unfolded, without white space around
// it, as valid UTF-8.
func (h header) value(f *field) string {
	v := h.src[f.start:f.end]
	if f.folded {
		v = unfoldBytes(v)
	}
	v = bytes.TrimSpace(v)
	if utf8.Valid(v) {
		return string(v)
	}
	// Raw 8-bit bytes in a header are usually Latin-1 or Windows-1252;
	// tokens must be valid UTF-8.
	return toUTF8(v, "")
}

// Get returns the first value of the field named name (lower case).
func (h header) Get(name string) string {
	for i := range h.fields {
		if h.fields[i].name == name {
			return h.value(&h.fields[i])
		}
	}
	return ""
}

// Values returns every value of the field named name (any case), in order.
func (h header) Values(name string) []string {
	name = strings.ToLower(name)
	var vs []string
	for i := range h.fields {
		if h.fields[i].name == name {
			vs = append(vs, h.value(&h.fields[i]))
		}
	}
	return vs
}

// parseHeader reads a header section leniently: a line that is neither a
// field nor a continuation is skipped (spam is full of them) instead of
// ending the header, and folded values are unfolded. It works on the bytes
// in place: go-message's textproto.ReadHeader stops at the first bad line
// and copied each line, which cost a tenth of the tokenizer's time. The
// header refers to b.
func parseHeader(b []byte) header {
	h := header{src: b, fields: make([]field, 0, 24)}
	var name string
	var start, end int
	folded := false
	flush := func() {
		if name == "" {
			return
		}
		h.fields = append(h.fields, field{name: name, start: int32(start), end: int32(end), folded: folded})
		name = ""
	}
	for pos := 0; pos < len(b); {
		lineStart, lineEnd := pos, len(b)
		if i := bytes.IndexByte(b[pos:], '\n'); i >= 0 {
			lineEnd = pos + i + 1
		}
		pos = lineEnd
		line := b[lineStart:lineEnd]
		if line[0] == ' ' || line[0] == '\t' {
			if name != "" {
				// A continuation: the value runs on; unfold it later.
				end = lineEnd
				folded = true
			}
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validName(line[:colon]) {
			continue
		}
		name = lowerName(bytes.TrimRight(line[:colon], " \t"))
		start, end = lineStart+colon+1, lineEnd
		folded = false
	}
	flush()
	return h
}

// lowerName lower-cases a field name, reusing the constant for the names
// that matter.
func lowerName(b []byte) string {
	if s, ok := knownNames[string(b)]; ok {
		return s
	}
	if len(b) > 64 {
		return strings.ToLower(string(b))
	}
	// A field name is ASCII (validName), so strings.ToLower lower-cases
	// it byte by byte, as here, in one copy instead of two.
	var buf [64]byte
	l := buf[:len(b)]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		l[i] = c
	}
	if s, ok := knownNames[string(l)]; ok {
		return s
	}
	return string(l)
}

var knownNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Received", "From", "To", "Cc", "Subject", "Date", "Message-ID", "Message-Id",
		"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version", "Mime-Version",
		"Reply-To", "Return-Path", "X-Mailer", "User-Agent", "Delivered-To", "Sender", "Precedence", "List-Id",
		"Errors-To", "References", "In-Reply-To", "X-Priority", "X-MSMail-Priority", "X-MimeOLE", "Importance"} {
		m[n] = strings.ToLower(n)
		m[strings.ToLower(n)] = strings.ToLower(n)
	}
	return m
}()

func validName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// unfoldBytes removes the line breaks of a folded value.
func unfoldBytes(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for len(v) > 0 {
		// Copy the line, then skip its end: CR and LF wherever they are.
		i := bytes.IndexAny(v, "\r\n")
		if i < 0 {
			return append(out, v...)
		}
		out = append(out, v[:i]...)
		v = v[i+1:]
	}
	return out
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 encoded words to UTF-8; a value that fails
// to decode is kept as it came, made valid UTF-8.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			if !utf8.ValidString(d) {
				return toUTF8([]byte(d), "")
			}
			return d
		}
	}
	if utf8.ValidString(v) {
		return v // what toUTF8 gives, without two copies
	}
	return toUTF8([]byte(v), "")
}
