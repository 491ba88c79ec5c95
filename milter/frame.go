package milter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// maxPacket bounds one milter packet: a body chunk is at most 1 MiB (the
// largest size an MTA may negotiate), the other commands far less. The
// library itself would allocate up to 512 MiB for a length a peer names.
const maxPacket = 1<<20 + 1<<10

// errMalformedPacket ends a connection whose peer broke the packet format.
var errMalformedPacket = errors.New("milter: malformed packet")

// framedListener hands out connections that read whole packets and check
// them before the library parses them: go-milter v0.10.1 indexes past the
// end of a zero-length packet, of a connect command without its family
// byte, and of a MAIL or RCPT command without the NUL after the address,
// and panics, which would end the whole process (found by FuzzSession).
type framedListener struct{ net.Listener }

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c, ack: quickAck(c)}, nil
}

// framedConn passes on the bytes of checked packets only.
type framedConn struct {
	net.Conn
	pending []byte
	err     error
	ack     func()
}

func (c *framedConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		pkt, err := c.next()
		if err != nil {
			c.err = err
			return 0, err
		}
		c.pending = pkt
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// next reads one packet (its length prefix included) and checks it. The
// read deadline the library set applies to these reads.
func (c *framedConn) next() ([]byte, error) {
	var hdr [4]byte
	if c.ack != nil {
		c.ack()
	}
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxPacket {
		return nil, fmt.Errorf("%w: length %d", errMalformedPacket, n)
	}
	pkt := make([]byte, 4+n)
	copy(pkt, hdr[:])
	if c.ack != nil {
		c.ack()
	}
	if _, err := io.ReadFull(c.Conn, pkt[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if err := checkPacket(pkt[4], pkt[5:]); err != nil {
		return nil, err
	}
	return pkt, nil
}

// checkPacket checks what the library takes for granted in a command's
// data (Sendmail's libmilter, mfapi.h, for the layouts).
func checkPacket(code byte, data []byte) error {
	switch code {
	case 'C':
		// hostname NUL, family, then port and address unless unknown
		i := bytes.IndexByte(data, 0)
		if i < 0 || i+1 >= len(data) {
			return fmt.Errorf("%w: connect without an address family", errMalformedPacket)
		}
	case 'M', 'R':
		if bytes.IndexByte(data, 0) < 0 {
			return fmt.Errorf("%w: %c without a NUL after the address", errMalformedPacket, code)
		}
	}
	return nil
}
