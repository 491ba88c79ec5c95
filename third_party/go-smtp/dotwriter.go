package smtp

import (
	"bufio"
	"bytes"
)

// dotWriter is net/textproto's DotWriter done a line at a time instead of
// a byte at a time: a leading dot is doubled, a bare LF becomes CRLF, a CR
// not followed by LF is passed on as it is, and Close ends the data with
// CRLF "." CRLF. The output is byte for byte textproto's, quirks included
// ("\r\r\n" becomes "\r\r\r\n"; mailguard's proxy never sends a bare CR).
type dotWriter struct {
	w     *bufio.Writer
	state int
}

const (
	dotBegin     = iota // nothing written yet
	dotBeginLine        // at the start of a line
	dotData             // inside a line
	dotCR               // inside a line, after a CR
)

func (d *dotWriter) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if d.state == dotBegin || d.state == dotBeginLine {
			d.state = dotData
			if b[n] == '.' {
				if err := d.w.WriteByte('.'); err != nil {
					return n, err
				}
			}
		}
		rest := b[n:]
		i := bytes.IndexByte(rest, '\n')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		// textproto's CR state: each CR toggles it, any other byte clears
		// it, and an LF in it is a line end already (else CRLF is written).
		k := 0
		for k < len(seg) && seg[len(seg)-1-k] == '\r' {
			k++
		}
		cr := k%2 == 1
		if k == len(seg) && d.state == dotCR {
			cr = !cr
		}
		if _, err := d.w.Write(seg); err != nil {
			return n, err
		}
		if i < 0 {
			d.state = dotData
			if cr {
				d.state = dotCR
			}
			return len(b), nil
		}
		end := "\r\n"
		if cr {
			end = "\n"
		}
		if _, err := d.w.WriteString(end); err != nil {
			return n, err
		}
		n += i + 1
		d.state = dotBeginLine
	}
	return n, nil
}

// Close ends the line in progress and writes the final dot.
func (d *dotWriter) Close() error {
	switch d.state {
	case dotBegin, dotData:
		d.w.WriteString("\r\n.\r\n")
	case dotCR:
		d.w.WriteString("\n.\r\n")
	case dotBeginLine:
		d.w.WriteString(".\r\n")
	}
	return d.w.Flush()
}
