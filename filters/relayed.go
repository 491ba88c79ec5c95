package filters

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"mailguard/internal/bufpool"
)

// The relayed message, whichever front end relays it: the front end's own
// trace field, the chain's fields (X-Spam-Status, ...), then the message as
// it arrived, minus every arriving X-Spam-* field (so a sender cannot forge
// a verdict) and the fields a check asked to strip. The milter, which cannot
// rewrite the stream, asks the MTA for the same changes field by field; the
// quarantine stores this form.
//
// The rules hold whatever a field's size: a field is held while it is
// judged, up to maxFieldBuffer; one longer than that is judged there, on
// its name and the start of its value, and is then dropped or passed on
// whole. Memory stays bounded either way.

// maxFieldBuffer bounds how much of one header field is held to judge it.
const maxFieldBuffer = 64 << 10

// CleanValue keeps a value from breaking the header it is written into:
// CR, LF and NUL become spaces.
func CleanValue(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// FormatField renders an added field as "Name: value\r\n", folded so
// lines stay short (SpamAssassin folds its X-Spam-Status the same way). A
// fold goes before a space of the value, or after a comma of a long list
// (tests=A,B,...) that has no space to fold at. Unfolding (RFC 5322
// section 2.2.3: the line breaks removed) gives the value back exactly,
// except that a fold after a comma leaves a space there, as SpamAssassin's
// does: a reader that splits the list at commas and trims the names sees
// the same names. A line is never only white space, and runs of spaces are
// kept.
func FormatField(f Field) string {
	const width = 78
	var b strings.Builder
	line := f.Name + ":"
	for i, tk := range foldTokens(CleanValue(f.Value)) {
		sep := " "
		if tk.glued {
			sep = ""
		}
		if i > 0 && tk.text != "" && len(line)+len(sep)+len(tk.text) > width && len(line) > len(f.Name)+1 {
			b.WriteString(line + "\r\n")
			line = " " + tk.text
			continue
		}
		line += sep + tk.text
	}
	b.WriteString(line + "\r\n")
	return b.String()
}

// foldToken is a piece of a value between places a fold may go: after a
// space (the space is not in text), or, glued, right after a comma.
type foldToken struct {
	text  string
	glued bool
}

// foldTokens splits a value at every space, and words longer than 60
// octets after their commas.
func foldTokens(v string) []foldToken {
	var out []foldToken
	for _, w := range strings.Split(v, " ") {
		glued := false
		for len(w) > 60 {
			i := strings.IndexByte(w, ',')
			if i < 0 || i == len(w)-1 {
				break
			}
			out = append(out, foldToken{w[:i+1], glued})
			w, glued = w[i+1:], true
		}
		out = append(out, foldToken{w, glued})
	}
	return out
}

// IsVerdictField reports whether a field name is one of the verdict fields
// only this gateway may write (X-Spam-*): an arriving one is forged or stale
// and is removed by every front end.
func IsVerdictField(name string) bool {
	return len(name) >= 7 && strings.EqualFold(name[:7], "X-Spam-")
}

// WriteMessage writes the relayed form of the message read from src to w:
// top (a Received: field, or ""), the added fields, then the message minus
// every verdict field (IsVerdictField) and every field strip matches (name
// as received, value unfolded; strip may be nil). Every other byte is passed
// on as it arrived. A panic on the way (in strip, a filter's rule, or in
// reading the client's header) is returned as an error: the caller writes
// on another goroutine, where a panic would end the process.
func WriteMessage(w io.Writer, top string, added []Field, strip func(name, value string) bool, src io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("filters: writing the message: panic: %v", p)
		}
	}()
	bw := bufpool.Writer(w)
	defer bufpool.PutWriter(bw)
	bw.WriteString(top)
	for _, f := range added {
		bw.WriteString(FormatField(f))
	}
	br := bufpool.Reader(src)
	defer bufpool.PutReader(br)
	if err := filterHeader(bw, br, strip); err != nil {
		return err
	}
	if _, err := io.Copy(bw, br); err != nil {
		return err
	}
	return bw.Flush()
}

// filterHeader copies the header section from br to w, leaving out the
// fields to strip, and stops after the blank line that ends it (or at the
// end of the message). The grammar is the one ParseHeader uses: a
// line starting with white space continues the field before it; a line
// that is neither is passed on untouched.
func filterHeader(w *bufio.Writer, br *bufio.Reader, strip func(name, value string) bool) error {
	f := headerFilter{w: w, strip: strip}
	midLine := false // the previous piece did not end its line
	for {
		piece, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
			return err
		}
		if len(piece) > 0 {
			whole := err == nil
			switch {
			case midLine:
				f.more(piece, whole)
			case whole && isBlankLine(piece):
				f.finish()
				w.Write(piece)
				return nil
			case piece[0] == ' ' || piece[0] == '\t':
				f.more(piece, whole)
			default:
				f.finish()
				f.start(piece, whole)
			}
			midLine = !whole
		}
		if err == io.EOF {
			f.finish()
			return nil
		}
	}
}

// fieldState is where filterHeader is in the current field.
type fieldState int

const (
	outside  fieldState = iota // no field: before the first, or after a line that is none
	holding                    // held until judged
	passing                    // judged: kept, written as it comes
	dropping                   // judged: left out
)

// headerFilter is filterHeader's state.
type headerFilter struct {
	w     *bufio.Writer
	strip func(name, value string) bool

	state   fieldState
	field   []byte // the held bytes
	named   bool   // the colon ending the name was found
	name    string
	valueAt int
}

// start begins a line that is not a continuation: a field, or a line
// that is none (kept as it is).
func (f *headerFilter) start(piece []byte, whole bool) {
	f.state, f.named, f.field = holding, false, append(f.field[:0], piece...)
	f.findName(whole)
	f.bound()
}

// more is the rest of a line, or a continuation line.
func (f *headerFilter) more(piece []byte, whole bool) {
	switch f.state {
	case outside, passing:
		f.w.Write(piece)
	case holding:
		f.field = append(f.field, piece...)
		if !f.named {
			f.findName(whole)
		}
		f.bound()
	}
}

// findName looks for the colon in the field's first line, whose end
// (whole) without one makes the line no field at all.
func (f *headerFilter) findName(whole bool) {
	colon := bytes.IndexByte(f.field, ':')
	if colon < 0 {
		if whole {
			f.w.Write(f.field)
			f.state = outside
		}
		return
	}
	if colon == 0 || !ValidFieldName(f.field[:colon]) {
		f.w.Write(f.field)
		f.state = outside
		return
	}
	f.named, f.valueAt = true, colon+1
	f.name = string(bytes.TrimRight(f.field[:colon], " \t"))
	if IsVerdictField(f.name) {
		f.state = dropping
	}
}

// bound judges a held field that outgrew the buffer on what is held: its
// name (or, with no colon yet, the start of its first line, which is a
// name only when it is followed by nothing but white space) and the start
// of its value.
func (f *headerFilter) bound() {
	if f.state != holding || len(f.field) <= maxFieldBuffer {
		return
	}
	name, value := f.name, ""
	if f.named {
		value = Unfold(f.field[f.valueAt:])
	} else {
		name = string(bytes.TrimRight(f.field, " \t\r\n"))
		if !ValidFieldName([]byte(name)) {
			f.w.Write(f.field)
			f.state = outside
			return
		}
	}
	if f.drops(name, value) {
		f.state = dropping
		return
	}
	f.w.Write(f.field)
	f.state = passing
}

// finish ends the current field, judging it if it is still held.
func (f *headerFilter) finish() {
	if f.state == holding {
		if !f.named {
			// A last line without its line end and without a colon.
			f.w.Write(f.field)
		} else if !f.drops(f.name, Unfold(f.field[f.valueAt:])) {
			f.w.Write(f.field)
		}
	}
	f.state, f.named, f.field = outside, false, f.field[:0]
	if cap(f.field) > 2*maxFieldBuffer {
		f.field = nil
	}
}

func (f *headerFilter) drops(name, value string) bool {
	return IsVerdictField(name) || f.strip != nil && f.strip(name, value)
}

func isBlankLine(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}
