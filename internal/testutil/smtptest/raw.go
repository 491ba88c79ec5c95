package smtptest

import (
	"bytes"
	"net"
	"strings"
	"sync"
)

// recordingListener keeps every byte the clients send, so tests can check
// the exact command lines the backend got.
type recordingListener struct {
	net.Listener
	s          *Server
	refuseHelo bool
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &rawConn{Conn: c, refuseHelo: l.refuseHelo}
	l.s.mu.Lock()
	l.s.raw = append(l.s.raw, rc)
	l.s.mu.Unlock()
	return rc, nil
}

// rawConn records what it reads. With refuseHelo it answers a repeated
// EHLO/HELO itself and hides it from the server; it follows DATA so a
// message line is never taken for a command.
type rawConn struct {
	net.Conn
	refuseHelo bool

	mu      sync.Mutex
	got     bytes.Buffer
	pending []byte // read from the socket, not yet given to the server
	partial []byte // an incomplete line
	helos   int
	inData  bool
}

func (c *rawConn) Read(b []byte) (int, error) {
	for len(c.pending) == 0 {
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		if n > 0 {
			c.mu.Lock()
			c.got.Write(buf[:n])
			c.mu.Unlock()
			if !c.refuseHelo {
				c.pending = append(c.pending, buf[:n]...)
			} else {
				c.filter(buf[:n])
			}
		}
		if err != nil {
			if len(c.pending) > 0 {
				break
			}
			return 0, err
		}
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// filter passes whole lines on, minus repeated greetings.
func (c *rawConn) filter(b []byte) {
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return
		}
		line := c.partial[:i+1]
		c.partial = c.partial[i+1:]
		cmd := strings.ToUpper(strings.TrimRight(string(line), "\r\n"))
		switch {
		case c.inData:
			if cmd == "." {
				c.inData = false
			}
		case cmd == "DATA":
			c.inData = true
		case strings.HasPrefix(cmd, "EHLO") || strings.HasPrefix(cmd, "HELO"):
			if c.helos++; c.helos > 1 {
				c.Conn.Write([]byte("503 5.5.1 Duplicate HELO/EHLO\r\n"))
				continue
			}
		}
		c.pending = append(c.pending, line...)
	}
}

func (c *rawConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.got.Bytes())
}

// Raw returns every byte each connection sent, one entry per connection in
// the order they were accepted.
func (s *Server) Raw() [][]byte {
	s.mu.Lock()
	conns := append([]*rawConn(nil), s.raw...)
	s.mu.Unlock()
	out := make([][]byte, len(conns))
	for i, c := range conns {
		out[i] = c.bytes()
	}
	return out
}

// CommandLines returns the command lines the connections sent, in order,
// exactly as sent but for their final CRLF; message text between DATA and
// its final dot is left out. A line holding a bare CR or LF shows it.
func (s *Server) CommandLines() []string {
	var out []string
	for _, raw := range s.Raw() {
		inData := false
		for len(raw) > 0 {
			i := bytes.Index(raw, []byte("\r\n"))
			if i < 0 {
				out = append(out, string(raw))
				break
			}
			line := string(raw[:i])
			raw = raw[i+2:]
			switch {
			case inData:
				inData = line != "."
			default:
				inData = strings.EqualFold(line, "DATA")
				out = append(out, line)
			}
		}
	}
	return out
}
