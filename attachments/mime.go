package attachments

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"

	"mailguard/classifier"
	"mailguard/filters"
	"mailguard/mimeparse"
)

// The MIME walk streams: a message is read once, part by part, and only
// archives are kept (in memory while small, in a temporary file beyond),
// so a large message costs no more memory than a small one. Names are
// decoded by the classifier's parameter reader (classifier.FileParam), so
// both see the same names.

// maxNesting bounds multiparts and attached messages within each other.
const maxNesting = 16

// maxPartHeader bounds the header of an attached message.
const maxPartHeader = 64 << 10

// walkMIME calls in.file for each file of the message whose header is h
// and body is body.
func (in *inspector) walkMIME(h filters.Header, body io.Reader) {
	in.entity(body, h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), h.Get("Content-Disposition"), "", 0)
	// The parts the walk did not read are of no interest; the reader is
	// the caller's to close.
}

func (in *inspector) entity(r io.Reader, ctype, cte, disposition, parent string, depth int) {
	if in.stopped {
		return
	}
	in.parts++
	if in.parts > in.lim.MaxParts {
		in.limit("(message)", fmt.Sprintf("has more than %d MIME parts", in.lim.MaxParts))
		return
	}
	mt, params := mimeparse.ContentType(ctype, parent)
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		if depth >= maxNesting {
			in.limit("(message)", fmt.Sprintf("nests MIME parts deeper than %d", maxNesting))
			return
		}
		mr := multipart.NewReader(r, params["boundary"])
		sub := strings.TrimPrefix(mt, "multipart/")
		for !in.stopped {
			p, err := mr.NextRawPart()
			if err != nil {
				return // the end, or a body that breaks its boundary
			}
			in.entity(p, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), sub, depth+1)
		}
		return
	case mt == "message/rfc822" || mt == "message/global":
		if depth >= maxNesting {
			in.limit("(message)", fmt.Sprintf("nests MIME parts deeper than %d", maxNesting))
			return
		}
		br := bufio.NewReader(decode(r, cte))
		h, ok := readHeader(br)
		if !ok {
			return
		}
		in.entity(br, h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), h.Get("Content-Disposition"), "", depth+1)
		return
	}
	var names []string
	if n := classifier.FileParam(disposition, "filename"); n != "" {
		names = append(names, n)
	}
	if n := classifier.FileParam(ctype, "name"); n != "" && (len(names) == 0 || names[0] != n) {
		names = append(names, n)
	}
	if len(names) == 0 && strings.HasPrefix(mt, "text/") {
		return // the message's text
	}
	file := "(unnamed " + mt + " part)"
	if len(names) > 0 {
		file = names[0]
	}
	in.file(file, names, mt, decode(r, cte), 0)
}

// decode undoes a transfer encoding leniently, as mail readers do.
func decode(r io.Reader, cte string) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return filters.Base64Decoder(r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// readHeader reads the header of an attached message, at most
// maxPartHeader bytes; ok is false when it does not end within them.
func readHeader(br *bufio.Reader) (filters.Header, bool) {
	var b bytes.Buffer
	for b.Len() < maxPartHeader {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			b.Write(line)
			continue
		}
		b.Write(line)
		if len(bytes.TrimRight(line, "\r\n")) == 0 || err != nil {
			h, _ := filters.ParseHeader(&b)
			return h, true
		}
	}
	return nil, false
}
