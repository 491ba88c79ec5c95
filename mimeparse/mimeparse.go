// Package mimeparse reads Content-Type and Content-Disposition values the
// way mail readers do, leniently: mail in the wild, and spam above all,
// carries parameter lists that RFC 2045's grammar (and so Go's
// mime.ParseMediaType) rejects, and a check that gives up on them sees less
// of the message than the reader who opens it. The message checks
// (filters), the attachment checks (attachments), the classifier's
// tokenizer and the review UI all parse these fields here.
package mimeparse

import (
	"mime"
	"strings"
)

// MediaType returns the value (a media type, or a disposition such as
// "attachment"; lower case) and the parameters of a Content-Type or
// Content-Disposition field value. A blank value gives "" and no
// parameters. When the strict parser (mime.ParseMediaType, RFC 2045 section
// 5.1 and RFC 2231) fails, the value is what stands before the first ";"
// and each "name=value" after it is a parameter, its quotes trimmed; a
// boundary is then taken as mail readers take it (see ContentType).
func MediaType(v string) (string, map[string]string) {
	mt, params, _ := parse(v)
	return mt, params
}

// ContentType parses a Content-Type value like MediaType, within a
// multipart whose subtype is parent ("" outside one): an absent type, or a
// broken one without a "/", is the default of its context, text/plain or,
// in a multipart/digest, message/rfc822 (RFC 2046 section 5.1.5). A
// boundary parameter the strict parser loses (old mailers leave "=" or
// white space unquoted in it) is recovered: boundary=VALUE up to ";" or
// white space, or a quoted VALUE whole.
func ContentType(v, parent string) (string, map[string]string) {
	def := "text/plain"
	if parent == "digest" {
		def = "message/rfc822"
	}
	mt, params, strict := parse(v)
	if mt == "" || !strict && !strings.Contains(mt, "/") {
		return def, nil
	}
	return mt, params
}

// parse is MediaType, also reporting whether the strict parser took the
// value whole.
func parse(v string) (mt string, params map[string]string, strict bool) {
	if strings.TrimSpace(v) == "" {
		return "", nil, false
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && mt != "" {
		if params["boundary"] == "" {
			if b := looseBoundary(v); b != "" {
				params["boundary"] = b
			}
		}
		return mt, params, true
	}
	semi := strings.IndexByte(v, ';')
	if semi < 0 {
		semi = len(v)
	}
	mt = strings.ToLower(strings.TrimSpace(v[:semi]))
	params = map[string]string{}
	for _, p := range strings.Split(v[semi:], ";") {
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
	// Splitting at ";" cuts a quoted boundary holding one; looseBoundary
	// reads quotes. An unterminated quote is still worth trying as a
	// boundary: the parts it may find are what the reader sees.
	if b := looseBoundary(v); b != "" {
		params["boundary"] = b
	}
	return mt, params, false
}

// looseBoundary finds a boundary parameter the way mail readers do when
// the Content-Type does not parse: boundary=VALUE up to ";" or white space,
// or a quoted VALUE.
func looseBoundary(ctype string) string {
	const name = "boundary"
	for i := 0; i+len(name) <= len(ctype); i++ {
		if !asciiFold(ctype[i:i+len(name)], name) {
			continue
		}
		rest := strings.TrimLeft(ctype[i+len(name):], " \t")
		if !strings.HasPrefix(rest, "=") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		if strings.HasPrefix(rest, `"`) {
			if end := strings.IndexByte(rest[1:], '"'); end >= 0 {
				return rest[1 : 1+end]
			}
			return ""
		}
		end := strings.IndexAny(rest, "; \t")
		if end < 0 {
			end = len(rest)
		}
		return rest[:end]
	}
	return ""
}

// asciiFold compares s with a lower-case ASCII word, ignoring the case of
// ASCII letters only: a header's bytes need not be UTF-8, and Unicode case
// folding would change their length.
func asciiFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
