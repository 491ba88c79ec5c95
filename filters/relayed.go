package filters

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// The relayed message, whichever front end relays it: the front end's own
// trace field, the chain's fields (X-Spam-Status, ...), then the message as
// it arrived, minus every arriving X-Spam-* field (so a sender cannot forge
// a verdict) and the fields a check asked to strip. The milter, which cannot
// rewrite the stream, asks the MTA for the same changes field by field; the
// quarantine stores this form.

// maxFieldBuffer bounds how much of one header field is held to decide
// whether to strip it; a longer field is passed on unless its name alone
// condemns it.
const maxFieldBuffer = 64 << 10

// cleanValue keeps a value from breaking the header it is written into.
func cleanValue(s string) string {
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

// FormatField renders an added field as "Name: value\r\n", folded at white space so lines stay
// short (SpamAssassin folds its X-Spam-Status the same way).
func FormatField(f Field) string {
	const width = 78
	var b strings.Builder
	line := f.Name + ":"
	for _, word := range splitFoldable(cleanValue(f.Value)) {
		if len(line)+1+len(word) > width && len(line) > len(f.Name)+1 {
			b.WriteString(line + "\r\n")
			// A space, not a tab: unfolding then gives the value back
			// exactly where it was folded at a space.
			line = " " + word
			continue
		}
		line += " " + word
	}
	b.WriteString(line + "\r\n")
	return b.String()
}

// splitFoldable splits a value at spaces, and long comma lists (tests=...)
// after their commas.
func splitFoldable(v string) []string {
	var out []string
	for _, w := range strings.Fields(v) {
		for len(w) > 60 {
			i := strings.LastIndexByte(w[:60], ',')
			if i <= 0 {
				break
			}
			out = append(out, w[:i+1])
			w = w[i+1:]
		}
		out = append(out, w)
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
// on as it arrived.
func WriteMessage(w io.Writer, top string, added []Field, strip func(name, value string) bool, src io.Reader) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(top)
	for _, f := range added {
		bw.WriteString(FormatField(f))
	}
	br := bufio.NewReaderSize(src, 32<<10)
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
	var (
		field    []byte // the current field's bytes, while it is held
		name     string
		valueAt  int
		inField  bool
		drop     bool // the name alone condemns it
		spilling bool // too long to hold: passed on as it comes
	)
	finish := func() {
		if inField && !drop && !spilling {
			value := Unfold(field[valueAt:])
			if strip == nil || !strip(name, value) {
				w.Write(field)
			}
		}
		field, inField, drop, spilling = field[:0], false, false, false
	}
	add := func(piece []byte) {
		switch {
		case drop:
		case spilling:
			w.Write(piece)
		case len(field)+len(piece) > maxFieldBuffer:
			w.Write(field)
			w.Write(piece)
			spilling = true
		default:
			field = append(field, piece...)
		}
	}
	for {
		piece, err := br.ReadSlice('\n')
		if len(piece) == 0 && err != nil {
			finish()
			if err == io.EOF {
				return nil
			}
			return err
		}
		whole := err == nil || err == io.EOF
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
			return err
		}
		switch {
		case isBlankLine(piece) && whole:
			finish()
			w.Write(piece)
			return nil
		case piece[0] == ' ' || piece[0] == '\t':
			if inField {
				add(piece)
			} else {
				w.Write(piece)
			}
		default:
			finish()
			colon := bytes.IndexByte(piece, ':')
			if colon > 0 && ValidFieldName(piece[:colon]) {
				inField = true
				name = string(bytes.TrimRight(piece[:colon], " \t"))
				valueAt = colon + 1
				drop = IsVerdictField(name)
				add(piece)
			} else {
				w.Write(piece)
			}
		}
		// The rest of an over-long line belongs to whatever its start
		// belonged to.
		for !whole {
			piece, err = br.ReadSlice('\n')
			whole = err == nil || err == io.EOF
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
				return err
			}
			if inField {
				add(piece)
			} else {
				w.Write(piece)
			}
			if err == io.EOF {
				break
			}
		}
		if err == io.EOF {
			finish()
			return nil
		}
	}
}

func isBlankLine(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}
