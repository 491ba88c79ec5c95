package smtp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

type EnhancedCode [3]int

// SMTPError specifies the error code, enhanced error code (if any) and
// message returned by the server.
type SMTPError struct {
	Code         int
	EnhancedCode EnhancedCode
	Message      string
}

// NoEnhancedCode is used to indicate that enhanced error code should not be
// included in response.
//
// Note that RFC 2034 requires an enhanced code to be included in all 2xx, 4xx
// and 5xx responses. This constant is exported for use by extensions, you
// should probably use EnhancedCodeNotSet instead.
var NoEnhancedCode = EnhancedCode{-1, -1, -1}

// EnhancedCodeNotSet is a nil value of EnhancedCode field in SMTPError, used
// to indicate that backend failed to provide enhanced status code. X.0.0 will
// be used (X is derived from error code).
var EnhancedCodeNotSet = EnhancedCode{0, 0, 0}

func (err *SMTPError) Error() string {
	s := fmt.Sprintf("SMTP error %03d", err.Code)
	if err.Message != "" {
		s += ": " + err.Message
	}
	return s
}

func (err *SMTPError) Temporary() bool {
	return err.Code/100 == 4
}

var ErrDataTooLarge = &SMTPError{
	Code:         552,
	EnhancedCode: EnhancedCode{5, 3, 4},
	Message:      "Maximum message size exceeded",
}

type dataReader struct {
	r     *bufio.Reader
	state int
	// held is a CR read after ".\r" at the start of a line, not yet
	// given out: it is the end of data if an LF follows.
	held bool

	limited bool
	n       int64 // Maximum bytes remaining
}

func newDataReader(c *Conn) *dataReader {
	dr := &dataReader{
		r: c.text.R,
	}

	if c.server.MaxMessageBytes > 0 {
		dr.limited = true
		dr.n = int64(c.server.MaxMessageBytes)
	}

	return dr
}

// States of dataReader.
const (
	stateBeginLine = iota // beginning of line; initial state; must be zero
	stateDot              // read . at beginning of line
	stateDotCR            // read .\r at beginning of line
	stateCR               // read \r (possibly at end of line)
	stateData             // reading data in middle of line
	stateEOF              // reached .\r\n end marker line
)

// Read gives out the message with its transparency dots removed (RFC 5321
// section 4.5.2) and CRLF line ends kept. Only CRLF "." CRLF ends the data:
// a bare CR or LF never starts a line, however many CRs stand before the
// CRLF, so "\r\r\n.\r\n" ends it and "\n.\n", "\r.\r", "\r\n.\n" or
// "\n.\r\n" are message text.
func (r *dataReader) Read(b []byte) (n int, err error) {
	if r.limited {
		if r.n <= 0 {
			return 0, ErrDataTooLarge
		}
		if int64(len(b)) > r.n {
			b = b[0:r.n]
		}
	}

	for n < len(b) && r.state != stateEOF {
		if r.held {
			// The CR after a leading dot was text after all.
			r.held = false
			b[n] = '\r'
			n++
			continue
		}
		if r.state == stateData {
			// Inside a line only a CR can change the state: what is
			// buffered up to the next CR is message text as it is.
			if buf, _ := r.r.Peek(r.r.Buffered()); len(buf) > 0 {
				k := bytes.IndexByte(buf, '\r')
				if k < 0 {
					k = len(buf)
				}
				if k > len(b)-n {
					k = len(b) - n
				}
				if k > 0 {
					copy(b[n:], buf[:k])
					r.r.Discard(k)
					n += k
					continue
				}
			}
		}
		if n > 0 && r.r.Buffered() == 0 {
			// What has come is returned now rather than after the client
			// sends more: a reader that waits for a full buffer holds a
			// slow client's text back from whoever counts its rate.
			break
		}
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			// Give out the held CR first, then this byte.
			r.held = true
			r.r.UnreadByte()
			r.state = stateData
			continue
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				b[n] = c
				n++
				continue
			}
		}
		if c == '\r' {
			r.state = stateCR
		} else {
			r.state = stateData
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}

	if r.limited {
		r.n -= int64(n)
	}
	return
}
