package proxy

import (
	"bytes"
	"io"

	"mailguard/internal/bufpool"
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
	// A line a line, not a byte a byte: a line may hold max octets and
	// the CR of its CRLF.
	for off := 0; off < len(b); {
		seg := b[off:]
		nl := bytes.IndexByte(seg, '\n')
		if nl >= 0 {
			seg = seg[:nl]
		}
		if over := l.over(seg); over >= 0 {
			l.overAt = l.line + 1
			if _, err := l.w.Write(b[:off+over]); err != nil {
				return 0, err
			}
			return len(b), nil
		}
		if nl < 0 {
			l.n += len(seg)
			break
		}
		l.line++
		l.n = 0
		off += nl + 1
	}
	return l.w.Write(b)
}

// over returns the index in seg (a piece of the current line, no LF in
// it) of the octet that takes the line over max, or -1.
func (l *lineLimiter) over(seg []byte) int {
	if l.n+len(seg) <= l.max {
		return -1
	}
	// The octet counted max+1 may only be a CR; the one after it never.
	p := l.max - l.n
	if p >= 0 && seg[p] != '\r' {
		return p
	}
	if p+1 < len(seg) {
		return p + 1
	}
	return -1
}

// Close flushes what the line-end writer holds.
func (l *lineLimiter) Close() error {
	if c, ok := l.w.(io.Closer); ok && l.overAt == 0 {
		return c.Close()
	}
	return nil
}

// lineEnds makes every line end CRLF before the message is judged: a bare LF,
// and a run of CRs with or without an LF after it, each become one CRLF
// ("\r\r\n" and "\r\r" are one line end). RFC 5321 section 4.1.1.4
// forbids a client to send bare CR or LF, and backends read them
// differently (Postfix takes a bare LF for a line end, others a bare CR):
// "\n.\n" or "\r.\r" in a message must not become the end of data there,
// nor a line the checks did not see.
type lineEnds struct {
	w io.Writer
	// cr is true when the last byte written was a CR not yet known to be
	// a line end.
	cr bool
}

func (e *lineEnds) Write(b []byte) (int, error) {
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	out := (*buf)[:0]
	rest := b
	for len(rest) > 0 {
		if e.cr {
			// A run of CRs, with or without an LF after it, is one line end.
			j := 0
			for j < len(rest) && rest[j] == '\r' {
				j++
			}
			if rest = rest[j:]; len(rest) == 0 {
				break
			}
			out = append(out, "\r\n"...)
			e.cr = false
			if rest[0] == '\n' {
				rest = rest[1:]
			}
			continue
		}
		// The text up to the first CR or LF passes as it is.
		k := bytes.IndexByte(rest, '\n')
		if k < 0 {
			k = len(rest)
		}
		if cr := bytes.IndexByte(rest[:k], '\r'); cr >= 0 {
			k = cr
		}
		out = append(out, rest[:k]...)
		switch {
		case k == len(rest):
			rest = nil
		case rest[k] == '\n':
			out = append(out, "\r\n"...)
			rest = rest[k+1:]
		default:
			e.cr = true
			rest = rest[k+1:]
		}
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	if cap(out) == cap(*buf) {
		*buf = out
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
