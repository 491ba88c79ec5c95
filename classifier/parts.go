package classifier

import (
	"net/url"
	"strconv"
	"strings"

	"mailguard/mimeparse"
)

// Part is one leaf entity of a message as the tokenizer sees it: decoded
// from its transfer encoding, with its file name decoded from RFC 2231
// parameters (continuations and charsets) or RFC 2047 encoded words.
type Part struct {
	// Type is the media type, lower case; text/plain when absent.
	Type string
	// Charset is the charset parameter as written ("" when none).
	Charset string
	// Filename is the Content-Disposition filename, else the Content-Type
	// name, decoded to UTF-8; "" when neither is given.
	Filename string
	// Names are every file name the part's header gives (filename and
	// name may disagree, which is itself a trick), decoded.
	Names []string
	// Attachment is true when Content-Disposition says attachment.
	Attachment bool
	// Body is the decoded body.
	Body []byte
	// Depth is the nesting level: 0 for a single-part message.
	Depth int
}

// Text returns the body converted to UTF-8 from the part's charset.
func (p *Part) Text() string { return toUTF8(p.Body, p.Charset) }

// HTML reports whether the part is HTML, or text labelled plain that looks
// like HTML (spam often mislabels it).
func (p *Part) HTML() bool {
	if p.Type == "text/html" {
		return true
	}
	return strings.HasPrefix(p.Type, "text/") && looksHTML(p.Body)
}

// WalkLimits bound a walk; a zero field takes the tokenizer's bound.
type WalkLimits struct {
	MaxParts int
	MaxDepth int
}

// WalkResult says how far a walk went.
type WalkResult struct {
	// Parts is the number of entities seen, multiparts included.
	Parts int
	// Truncated names the limit that stopped the walk, "" when none did.
	Truncated string
}

// Walk calls visit for every leaf part of a raw RFC 5322 message, in
// order, with the same lenient MIME reading the tokenizer uses: multiparts
// split on their boundary even when broken, attached messages (message/rfc822)
// entered, base64 and quoted-printable undone. Multipart containers and the
// header of attached messages are not visited.
func Walk(raw []byte, lim WalkLimits, visit func(*Part)) WalkResult {
	if lim.MaxParts <= 0 {
		lim.MaxParts = maxParts
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = maxDepth
	}
	raw = skipEnvelopeLine(raw)
	hdr, body := splitHeader(raw)
	w := &partWalker{lim: lim, visit: visit}
	w.entity(parseHeader(hdr), body, 0)
	return w.res
}

type partWalker struct {
	lim   WalkLimits
	visit func(*Part)
	res   WalkResult
}

func (w *partWalker) entity(h header, body []byte, depth int) {
	if w.res.Truncated != "" {
		return
	}
	w.res.Parts++
	if w.res.Parts > w.lim.MaxParts {
		w.res.Truncated = "parts"
		return
	}
	if depth > w.lim.MaxDepth {
		w.res.Truncated = "depth"
		return
	}
	mt, params := mimeparse.MediaType(h.Get("content-type"))
	if mt == "" {
		mt = "text/plain"
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("content-transfer-encoding")))
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		for _, p := range splitParts(body, params["boundary"]) {
			ph, pb := splitHeader(p)
			w.entity(parseHeader(ph), pb, depth+1)
			if w.res.Truncated != "" {
				return
			}
		}
		return
	case mt == "message/rfc822":
		ih, ib := splitHeader(decodeTransfer(body, cte))
		w.entity(parseHeader(ih), ib, depth+1)
		return
	}
	p := &Part{Type: mt, Charset: params["charset"], Body: decodeTransfer(body, cte), Depth: depth}
	if cd := h.Get("content-disposition"); cd != "" {
		d, _ := mimeparse.MediaType(cd)
		p.Attachment = d == "attachment"
		if n := FileParam(cd, "filename"); n != "" {
			p.Names = append(p.Names, n)
		}
	}
	if n := FileParam(h.Get("content-type"), "name"); n != "" && (len(p.Names) == 0 || p.Names[0] != n) {
		p.Names = append(p.Names, n)
	}
	if len(p.Names) > 0 {
		p.Filename = p.Names[0]
	}
	w.visit(p)
}

// FileParam returns the parameter key (filename, name) of a Content-Type or
// Content-Disposition value, decoded to UTF-8: a plain value, RFC 2047
// encoded words in it (what many mailers write), or RFC 2231 extended
// values (key*=charset'lang'%XX) and continuations (key*0, key*1*, ...) in
// any charset the tokenizer knows. The standard library's parser drops
// extended values in charsets other than UTF-8 and US-ASCII, which would
// hide an attachment's name; this one reads them.
func FileParam(v, key string) string {
	var plain, ext string
	var hasPlain, hasExt bool
	conts := map[int]string{}
	contExt := map[int]bool{}
	for _, p := range splitParams(v) {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = unquoteParam(strings.TrimSpace(val))
		switch {
		case k == key:
			if !hasPlain {
				plain, hasPlain = val, true
			}
		case k == key+"*":
			if !hasExt {
				ext, hasExt = val, true
			}
		case strings.HasPrefix(k, key+"*"):
			n := strings.TrimPrefix(k, key+"*")
			star := strings.HasSuffix(n, "*")
			n = strings.TrimSuffix(n, "*")
			i, err := strconv.Atoi(n)
			if err != nil || i < 0 || i > 999 {
				continue
			}
			if _, dup := conts[i]; !dup {
				conts[i], contExt[i] = val, star
			}
		}
	}
	if hasExt {
		return decodeExtValue(ext)
	}
	if len(conts) > 0 {
		// Section 3: the first section carries the charset; encoded
		// sections are percent-decoded in it, others taken as they are.
		var raw []byte
		charset := ""
		for i := 0; ; i++ {
			s, ok := conts[i]
			if !ok {
				break
			}
			if contExt[i] {
				if i == 0 {
					if parts := strings.SplitN(s, "'", 3); len(parts) == 3 {
						charset, s = parts[0], parts[2]
					}
				}
				raw = append(raw, percentDecode(s)...)
			} else {
				raw = append(raw, s...)
			}
		}
		if len(raw) > 0 {
			return cleanName(toUTF8(raw, charset))
		}
	}
	if hasPlain {
		return cleanName(decodeHeader(plain))
	}
	return ""
}

// decodeExtValue decodes charset'language'%XX%XX (RFC 2231 section 4).
func decodeExtValue(v string) string {
	charset := ""
	if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
		charset, v = parts[0], parts[2]
	}
	return cleanName(toUTF8(percentDecode(v), charset))
}

// percentDecode undoes %XX escapes; a bad escape is kept as written.
func percentDecode(s string) []byte {
	if d, err := url.PathUnescape(s); err == nil {
		return []byte(d)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}

// splitParams splits a header value's parameters on semicolons outside
// quoted strings; the first element (the type or disposition) is dropped.
func splitParams(v string) []string {
	var out []string
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && inQuote:
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	out = append(out, v[start:])
	return out[1:]
}

// unquoteParam removes the quotes of a quoted-string and its backslash
// escapes; an unquoted value is returned as it is.
func unquoteParam(v string) string {
	if len(v) < 2 || v[0] != '"' {
		return strings.Trim(v, `"'`)
	}
	v = v[1:]
	if i := strings.LastIndexByte(v, '"'); i >= 0 {
		v = v[:i]
	}
	if !strings.Contains(v, "\\") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// cleanName drops control characters (a name is shown in logs and
// replies) and white space around the name.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
