package web

import (
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets of text parts

	"mailguard/filters"
	"mailguard/mimeparse"
	"mailguard/quarantine"
)

// field is one header field for display.
type field struct {
	Name, Value string
}

// parsed is what the message view shows of a message.
type parsed struct {
	Header []field
	// Text is the first text/plain part, decoded to UTF-8.
	Text string
	// HTML is the first text/html part, decoded to UTF-8.
	HTML  string
	Parts []string // the parts' types, for the reader's information
	// Problem says what could not be read, if anything.
	Problem string
}

// maxPart bounds the text shown of one part.
const maxPart = 1 << 20

// parse reads a message for display. It never fails: what it cannot
// decode it reports in Problem and shows as far as it got.
func parse(raw []byte) parsed {
	var p parsed
	h, _ := filters.ParseHeader(bytes.NewReader(raw))
	for _, f := range h {
		p.Header = append(p.Header, field{Name: f.Name, Value: quarantine.DecodeHeader(f.Value)})
	}
	ent, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		p.Problem = "the message's MIME structure could not be read: " + err.Error()
		if _, body, ok := bytes.Cut(raw, []byte("\r\n\r\n")); ok {
			p.Text = clipText(strings.ToValidUTF8(string(body), "\uFFFD"))
		}
		return p
	}
	err = ent.Walk(func(path []int, e *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			p.Problem = "part of the message could not be read: " + err.Error()
			return nil
		}
		mt, params, _ := e.Header.ContentType()
		if mt == "" {
			mt = "text/plain"
		}
		desc := mt
		if cs := params["charset"]; cs != "" {
			desc += "; charset=" + cs
		}
		if _, dp := mimeparse.MediaType(e.Header.Get("Content-Disposition")); dp["filename"] != "" {
			desc += " (" + quarantine.DecodeHeader(dp["filename"]) + ")"
		}
		p.Parts = append(p.Parts, desc)
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		switch {
		case mt == "text/plain" && p.Text == "":
			b, _ := io.ReadAll(io.LimitReader(e.Body, maxPart+1))
			p.Text = clipText(strings.ToValidUTF8(string(b), "\uFFFD"))
		case mt == "text/html" && p.HTML == "":
			b, _ := io.ReadAll(io.LimitReader(e.Body, maxPart+1))
			p.HTML = clipText(strings.ToValidUTF8(string(b), "\uFFFD"))
		}
		return nil
	})
	if err != nil && p.Problem == "" {
		p.Problem = err.Error()
	}
	return p
}

func clipText(s string) string {
	if len(s) > maxPart {
		s = strings.ToValidUTF8(s[:maxPart], "") + "\n[… cut: the part is longer than 1 MB]"
	}
	return s
}
