package classifier

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
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

// parseHeader reads a header section with go-message's parser, which stops
// at the first line that is not a field; spam is full of those, so parsing
// resumes after each such line rather than losing the rest of the header.
func parseHeader(b []byte) header {
	if len(b) == 0 {
		return nil
	}
	br := bufio.NewReaderSize(bytes.NewReader(b), 4096)
	var h header
	for range 1000 {
		th, err := textproto.ReadHeader(br)
		fs := th.Fields()
		for fs.Next() {
			h = append(h, field{name: strings.ToLower(fs.Key()), value: fs.Value()})
		}
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if _, perr := br.Peek(1); perr != nil {
			break
		}
	}
	return h
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 encoded words to UTF-8; a value that fails
// to decode is kept as it came, made valid UTF-8.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			return d
		}
	}
	return toUTF8([]byte(v), "")
}

// parseContentType returns the media type (lower case, "" when absent)
// and parameters of a Content-Type value. Broken parameter lists are
// common in spam, so when the strict parser fails the boundary and charset
// are picked out by hand.
func parseContentType(v string) (string, map[string]string) {
	if v == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		return mt, params
	}
	parts := strings.Split(v, ";")
	mt = strings.ToLower(strings.TrimSpace(parts[0]))
	params = map[string]string{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"'`)
		if k != "" && val != "" {
			params[k] = val
		}
	}
	return mt, params
}
