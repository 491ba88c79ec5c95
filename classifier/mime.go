package classifier

import (
	"bytes"
	"encoding/base64"
	"path"
	"strings"

	"mailguard/mimeparse"
)

// entity tokenizes one MIME entity whose header is h and body is body:
// multiparts are walked part by part, attached messages recursed into, text
// parts decoded and split into words; other parts only leave their type
// and file name extension.
func (t *tokenizer) entity(h header, body []byte, depth int) {
	t.parts++
	if t.parts > maxParts || depth > maxDepth {
		return
	}
	mt, params := mimeparse.MediaType(h.Get("content-type"))
	if mt == "" {
		mt = "text/plain"
	} else {
		t.add("content-type:" + mt)
	}
	if cs := params["charset"]; cs != "" {
		t.add("charset:" + strings.ToLower(cs))
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("content-transfer-encoding")))
	if cte != "" && cte != "7bit" {
		t.add("encoding:" + cte)
	}
	name := params["name"]
	if cd := h.Get("content-disposition"); cd != "" {
		_, dp := mimeparse.MediaType(cd)
		if dp["filename"] != "" {
			name = dp["filename"]
		}
	}
	if name != "" {
		if ext := strings.ToLower(path.Ext(decodeHeader(name))); ext != "" && len(ext) <= 6 {
			t.add("filename:" + ext)
		} else {
			t.add("filename:noext")
		}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		b := params["boundary"]
		if b == "" {
			t.add("multipart:noboundary")
			t.text(decodeTransfer(body, cte), params["charset"], false)
			return
		}
		for _, p := range splitParts(body, b) {
			ph, pb := splitHeader(p)
			t.entity(parseHeader(ph), pb, depth+1)
			if t.parts > maxParts {
				return
			}
		}
	case mt == "message/rfc822":
		ih, ib := splitHeader(decodeTransfer(body, cte))
		inner := parseHeader(ih)
		t.words("subject:", decodeHeader(inner.Get("subject")))
		t.entity(inner, ib, depth+1)
	case strings.HasPrefix(mt, "text/"):
		t.text(decodeTransfer(body, cte), params["charset"], mt == "text/html")
	case strings.HasPrefix(mt, "image/"):
		t.imageParts++
		n := len(body)
		if cte == "base64" {
			n = n * 3 / 4
		}
		t.imageBytes = max(t.imageBytes, n)
	}
}

// text tokenizes decoded text in charset, as HTML when html is set or the
// text looks like HTML anyway (spam often labels HTML text/plain).
func (t *tokenizer) text(b []byte, charset string, html bool) {
	if t.textLeft <= 0 {
		return
	}
	if len(b) > t.textLeft {
		b = b[:t.textLeft]
	}
	t.textLeft -= len(b)
	s := toUTF8(b, charset)
	// A charset that does not fit the text's script: on the SpamAssassin
	// corpus (1-ROCA)% fell on the whole corpus (0.0160 to 0.0159) and on
	// two of three fixed splits (0.0063 to 0.0060, 0.0206 to 0.0204),
	// equal on the third.
	if tok := scriptToken(charset, s); tok != "" {
		t.add(tok)
	}
	if !html && looksHTML(s) {
		html = true
	}
	if html {
		s = t.html(s)
	}
	t.words("", s)
}

// looksHTML reports whether text in a part not labelled HTML is HTML: its
// first 2048 bytes hold one of htmlMarks, in any case of ASCII letters.
// No rune lower-cases to '<', ' ', '>' or the marks' letters but their
// ASCII capitals, so this is the answer for the text lower-cased, without
// lower-casing (and copying) it.
func looksHTML[T string | []byte](s T) bool {
	head := s[:min(len(s), 2048)]
	for i := 0; i < len(head); i++ {
		if head[i] != '<' {
			continue
		}
		for _, m := range htmlMarks {
			if hasPrefixFold(head[i:], m) {
				return true
			}
		}
	}
	return false
}

// htmlMarks are the tags that make text HTML, lower-case.
var htmlMarks = []string{"<html", "<body", "<a href", "<br>", "<p>", "<font"}

// splitParts returns the bodies (header included) of the parts of a
// multipart body: what lies between delimiter lines "--boundary". A missing
// closing delimiter ends the last part at the end of the body.
func splitParts(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part's content
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		at := pos + i
		if at > 0 && body[at-1] != '\n' {
			pos = at + len(delim)
			continue
		}
		if start >= 0 {
			end := at
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
			if len(parts) >= maxParts {
				return parts
			}
		}
		after := at + len(delim)
		if bytes.HasPrefix(body[after:], []byte("--")) {
			return parts
		}
		nl := bytes.IndexByte(body[after:], '\n')
		if nl < 0 {
			return parts
		}
		start = after + nl + 1
		pos = start
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

// decodeTransfer undoes a Content-Transfer-Encoding leniently: bad
// characters are skipped rather than ending the part.
func decodeTransfer(b []byte, cte string) []byte {
	switch cte {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

func decodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			// Padding ends the data; what follows is usually junk.
			goto done
		}
	}
done:
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		// Copy up to the next '=' at once: most of a QP body is literal.
		lit := bytes.IndexByte(b[i:], '=')
		if lit < 0 {
			out = append(out, b[i:]...)
			break
		}
		out = append(out, b[i:i+lit]...)
		i += lit
		c := b[i]
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		// Trailing white space before a soft break is also common.
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && (b[j] == '\n' || b[j] == '\r') {
			i = j
			if b[j] == '\r' && j+1 < len(b) && b[j+1] == '\n' {
				i = j + 1
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
