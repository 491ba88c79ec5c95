package proxy

import (
	"bytes"
	"io"
)

// The message text between DATA and its final dot passes through a
// lineLimiter, then lineEnds, into the spool: what the checks judge is what
// the backend gets.

// lineLimiter passes a message on to w until a line is longer than max
// octets (without its CRLF); from then on it only reads on, so a long line is
// answered at the end of the data, with bounded memory, while the client
// still listens.
type lineLimiter struct {
	w   io.Writer
	max int
	// line is the current line's number (from 1) and n its length so far.
	line, n int
	// overAt is the number of the first line over max; 0 when none.
	overAt int
}

func (l *lineLimiter) Write(b []byte) (int, error) {
	if l.overAt > 0 {
		return len(b), nil
	}
	for i, c := range b {
		if c == '\n' {
			l.line++
			l.n = 0
			continue
		}
		if l.n++; l.n > l.max+1 || l.n == l.max+1 && c != '\r' {
			l.overAt = l.line + 1
			if _, err := l.w.Write(b[:i]); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return l.w.Write(b)
}

// Close flushes what the line-end writer holds.
func (l *lineLimiter) Close() error {
	if c, ok := l.w.(io.Closer); ok && l.overAt == 0 {
		return c.Close()
	}
	return nil
}

// lineEnds makes every line end CRLF before the message is judged: a bare LF
// or a bare CR becomes CRLF, and CRs before a CRLF join it ("\r\r\n" is
// one line end). RFC 5321 section 4.1.1.4 forbids a client to send bare CR
// or LF, and backends read them differently (Postfix takes a bare LF for a
// line end, others a bare CR): "\n.\n" or "\r.\r" in a message must not
// become the end of data there, nor a line the checks did not see.
type lineEnds struct {
	w io.Writer
	// cr is true when the last byte written was a CR not yet known to be
	// a line end.
	cr  bool
	out bytes.Buffer
}

func (e *lineEnds) Write(b []byte) (int, error) {
	e.out.Reset()
	for _, c := range b {
		switch {
		case c == '\r':
			e.cr = true
			continue
		case c == '\n':
			e.out.WriteString("\r\n")
		default:
			if e.cr {
				e.out.WriteString("\r\n")
			}
			e.out.WriteByte(c)
		}
		e.cr = false
	}
	if _, err := e.w.Write(e.out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close writes a CR the message ended with as a line end.
func (e *lineEnds) Close() error {
	if e.cr {
		e.cr = false
		_, err := e.w.Write([]byte("\r\n"))
		return err
	}
	return nil
}
