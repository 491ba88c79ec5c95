package filters

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"

	"mailguard/mimeparse"
)

// bodyFacts is what the MIME walk learnt about a body.
type bodyFacts struct {
	// noBoundary describes a multipart entity without its boundary
	// parameter, at any depth; "" when there is none.
	noBoundary string
	// plain and html say whether a text/plain or a text/html part (not an
	// attachment) was seen.
	plain, html bool
	// gtube is true when the GTUBE string is in the raw body or in a
	// decoded text part.
	gtube bool
	// parts is how many entities were looked at, the top one included.
	parts int
	// limit names the limit that stopped the walk, "" when none did.
	limit string
}

// Bounds on the header of an attached message or a part, which are read
// only for their Content-* fields.
const (
	maxPartHeaderBytes = 64 << 10
	// stdlib's mime/multipart bounds part headers to 10 MiB and 10000
	// fields; this walk has no use for more than a few, so a part whose
	// header exceeds this many fields simply ends the walk.
)

// walkBody reads the body once, streaming: the MIME structure is walked
// within lim, and every raw byte also goes to the GTUBE matcher, so a body
// the walk gives up on is still scanned whole.
func walkBody(ctx context.Context, m *Message, lim MIMELimits) (bodyFacts, error) {
	var f bodyFacts
	rc, err := m.OpenBody()
	if err != nil {
		return f, fmt.Errorf("open body: %w", err)
	}
	defer rc.Close()
	raw := &gtubeMatcher{}
	body := io.TeeReader(&ctxReader{ctx: ctx, r: rc}, raw)
	w := &walker{ctx: ctx, lim: lim, facts: &f, decoded: &gtubeMatcher{}}
	w.entity(body, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Header.Get("Content-Disposition"), "", 0)
	// Whatever the walk left unread still goes past the raw matcher.
	_, err = io.Copy(io.Discard, body)
	f.gtube = raw.found || w.decoded.found
	if err != nil {
		return f, fmt.Errorf("read body: %w", err)
	}
	return f, nil
}

type walker struct {
	ctx     context.Context
	lim     MIMELimits
	facts   *bodyFacts
	decoded *gtubeMatcher
	spent   int64  // decoded bytes scanned
	buf     []byte // for copying decoded parts, made once a message
}

// entity walks one entity whose header fields are given and whose body is
// r. parent is the enclosing multipart's subtype, which sets the default
// type of its parts (RFC 2046 section 5.1.5).
func (w *walker) entity(r io.Reader, ctype, cte, disposition, parent string, depth int) {
	if w.stopped() {
		return
	}
	w.facts.parts++
	if w.facts.parts > w.lim.MaxParts {
		w.facts.limit = fmt.Sprintf("more than %d parts", w.lim.MaxParts)
		return
	}
	mt, params := mimeparse.ContentType(ctype, parent)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			if w.facts.noBoundary == "" {
				w.facts.noBoundary = "multipart body without boundary parameter"
				if depth > 0 {
					w.facts.noBoundary = fmt.Sprintf("%s part without boundary parameter", mt)
				}
			}
			return
		}
		if depth >= w.lim.MaxDepth {
			w.facts.limit = fmt.Sprintf("nested deeper than %d", w.lim.MaxDepth)
			return
		}
		sub := strings.TrimPrefix(mt, "multipart/")
		mr := multipart.NewReader(r, boundary)
		for !w.stopped() {
			p, err := mr.NextRawPart()
			if err != nil {
				// io.EOF, or a body that does not follow its boundary:
				// either way there is nothing more to walk here.
				return
			}
			w.entity(p, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), sub, depth+1)
		}
	case mt == "message/rfc822" || mt == "message/global":
		if depth >= w.lim.MaxDepth {
			w.facts.limit = fmt.Sprintf("nested deeper than %d", w.lim.MaxDepth)
			return
		}
		br := bufio.NewReader(r)
		h, ok := readContentFields(br)
		if !ok {
			return
		}
		w.entity(br, h["content-type"], h["content-transfer-encoding"], h["content-disposition"], "", depth+1)
	case mt == "text/plain" || mt == "text/html":
		if !isAttachment(disposition) {
			if mt == "text/plain" {
				w.facts.plain = true
			} else {
				w.facts.html = true
			}
		}
		w.scanDecoded(r, cte)
	case strings.HasPrefix(mt, "text/"):
		w.scanDecoded(r, cte)
	}
}

// scanDecoded feeds a text part, decoded from its transfer encoding, to the
// GTUBE matcher, within the walk's budget of decoded bytes.
func (w *walker) scanDecoded(r io.Reader, cte string) {
	if w.decoded.found {
		return
	}
	var dec io.Reader
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		dec = Base64Decoder(r)
	case "quoted-printable":
		dec = quotedprintable.NewReader(r)
	default:
		// 7bit, 8bit, binary and unknown encodings: the raw matcher has
		// already seen these bytes as they are.
		return
	}
	left := w.lim.MaxDecodedBytes - w.spent
	if left <= 0 {
		w.facts.limit = fmt.Sprintf("more than %d decoded bytes", w.lim.MaxDecodedBytes)
		return
	}
	if w.buf == nil {
		w.buf = make([]byte, 8<<10)
	}
	n, _ := io.CopyBuffer(w.decoded, io.LimitReader(dec, left), w.buf)
	w.spent += n
	// Decoding errors (bad base64, a stray "=") end the part: SpamAssassin
	// too scans what decodes.
}

func (w *walker) stopped() bool {
	return w.facts.limit != "" || w.ctx.Err() != nil
}

func isAttachment(disposition string) bool {
	d, _ := mimeparse.MediaType(disposition)
	return d == "attachment"
}

// readContentFields reads the header of an attached message, keeping only
// its Content-* fields (lower-cased names, unfolded values) and reading at
// most maxPartHeaderBytes; ok is false when the header does not end within
// that bound.
func readContentFields(br *bufio.Reader) (map[string]string, bool) {
	h := map[string]string{}
	var name string
	var val strings.Builder
	flush := func() {
		if name != "" {
			if _, dup := h[name]; !dup {
				h[name] = strings.TrimSpace(val.String())
			}
		}
		name = ""
		val.Reset()
	}
	read := 0
	for read < maxPartHeaderBytes {
		line, err := br.ReadSlice('\n')
		read += len(line)
		if errors.Is(err, bufio.ErrBufferFull) {
			// A header line longer than the reader's buffer: read on,
			// keeping none of it.
			flush()
			continue
		}
		body := bytes.TrimRight(line, "\r\n")
		if len(body) == 0 {
			flush()
			return h, true
		}
		if body[0] == ' ' || body[0] == '\t' {
			if name != "" && val.Len() < 1024 {
				val.Write(body)
			}
		} else {
			flush()
			if colon := bytes.IndexByte(body, ':'); colon > 0 {
				n := strings.ToLower(strings.TrimSpace(string(body[:colon])))
				if strings.HasPrefix(n, "content-") {
					name = n
					val.Write(body[colon+1:])
				}
			}
		}
		if err != nil {
			flush()
			return h, true
		}
	}
	return h, false
}

// Base64Decoder decodes a base64 body leniently, as mail readers do:
// line ends, stray white space and other bytes outside the alphabet are
// skipped.
func Base64Decoder(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: r})
}

// base64Cleaner drops everything that is not base64 alphabet or padding.
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		k := 0
		for _, b := range p[:n] {
			if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// ctxReader ends a read of a large spooled body when the check's deadline
// passes.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
