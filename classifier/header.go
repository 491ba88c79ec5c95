package classifier

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"
)

// field is one header field: its name lower-cased and its unfolded value.
type field struct {
	name, value string
}

type header []field

// Get returns the first value of the field named name (lower case).
func (h header) Get(name string) string {
	for _, f := range h {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

// Values returns every value of the field named name (any case), in order.
func (h header) Values(name string) []string {
	name = strings.ToLower(name)
	var vs []string
	for _, f := range h {
		if f.name == name {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// parseHeader reads a header section leniently: a line that is neither a
// field nor a continuation is skipped (spam is full of them) instead of
// ending the header, and folded values are unfolded. It works on the bytes
// in place: go-message's textproto.ReadHeader stops at the first bad line
// and copied each line, which cost a tenth of the tokenizer's time.
func parseHeader(b []byte) header {
	h := make(header, 0, 24)
	var name string
	var val []byte
	folded := false
	flush := func() {
		if name == "" {
			return
		}
		v := val
		if folded {
			v = unfoldBytes(v)
		}
		v = bytes.TrimSpace(v)
		value := ""
		if utf8.Valid(v) {
			value = string(v)
		} else {
			// Raw 8-bit bytes in a header are usually Latin-1 or
			// Windows-1252; tokens must be valid UTF-8.
			value = toUTF8(v, "")
		}
		h = append(h, field{name: name, value: value})
		name = ""
	}
	for len(b) > 0 {
		line := b
		next := len(b)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, next = b[:i+1], i+1
		}
		b = b[next:]
		if line[0] == ' ' || line[0] == '\t' {
			if name != "" {
				// A continuation: the value runs on; unfold it later.
				val = val[:len(val)+len(line)]
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
		val = line[colon+1:]
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
