// Package antivirus scans messages with ClamAV's daemon, clamd, over its
// socket (TCP or a unix socket) with the INSTREAM command, and refuses or
// quarantines what it finds infected, naming the signature.
//
// The protocol (clamd(8)): the client sends "zINSTREAM\0", then the data in
// chunks, each prefixed with its length as a 4-byte big-endian number,
// then a zero length; clamd answers one NUL-terminated line,
// "stream: OK", "stream: NAME FOUND" or "... ERROR" (for instance
// "INSTREAM size limit exceeded. ERROR" past its StreamMaxLength).
package antivirus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Client asks one clamd.
type Client struct {
	network, addr string
	timeout       time.Duration
}

// DefaultTimeout bounds a scan by default.
const DefaultTimeout = 30 * time.Second

// NewClient returns a client of the clamd at addr: "host:port" or
// "unix:/path/to/clamd.ctl". timeout bounds a whole scan (default 30s).
func NewClient(addr string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{network: "tcp", addr: addr, timeout: timeout}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if p == "" {
			return nil, fmt.Errorf("clamd %q: no socket path after unix:", addr)
		}
		c.network, c.addr = "unix", p
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("clamd %q: neither host:port nor unix:/path", addr)
	}
	return c, nil
}

// Result is clamd's verdict on one stream.
type Result struct {
	// Infected is true when a signature matched; Signature names it
	// ("Eicar-Test-Signature").
	Infected  bool
	Signature string
}

// ErrScanner marks failures of the scanner itself (unreachable, timed out,
// an ERROR answer): the message was not scanned.
var ErrScanner = errors.New("virus scanner failed")

// chunkSize is the size of the INSTREAM chunks sent.
const chunkSize = 64 << 10

// Scan streams r to clamd and returns its verdict. Errors wrap ErrScanner.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrScanner, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	// Close the connection when ctx ends early, so a blocked read or write
	// returns.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	w := bufio.NewWriterSize(conn, chunkSize+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrScanner, err)
	}
	buf := make([]byte, chunkSize)
	var size [4]byte
	sendErr := func() error {
		for {
			n, rerr := io.ReadFull(r, buf)
			if n > 0 {
				binary.BigEndian.PutUint32(size[:], uint32(n))
				w.Write(size[:])
				if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("read message: %w", rerr)
			}
		}
		w.Write([]byte{0, 0, 0, 0})
		return w.Flush()
	}()
	// clamd answers and closes early when the stream exceeds its limit;
	// its answer then says why better than our write error.
	line, rerr := bufio.NewReader(conn).ReadString(0)
	line = strings.TrimRight(line, "\x00\r\n")
	if line == "" {
		err := rerr
		if sendErr != nil {
			err = sendErr
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Result{}, fmt.Errorf("%w: no answer: %v", ErrScanner, err)
	}
	return ParseReply(line)
}

// ParseReply reads clamd's answer to a scan: "stream: OK", "stream: NAME
// FOUND", anything ending in ERROR. The signature name is limited to
// printable ASCII, as it goes into replies and logs.
func ParseReply(line string) (Result, error) {
	line = strings.Trim(line, " \t\r\n\x00")
	body := line
	if i := strings.Index(line, ": "); i >= 0 {
		body = line[i+2:]
	}
	switch {
	case body == "OK":
		return Result{}, nil
	case strings.HasSuffix(body, " FOUND"):
		sig := printable(strings.TrimSpace(strings.TrimSuffix(body, " FOUND")))
		if sig == "" {
			sig = "unnamed signature"
		}
		return Result{Infected: true, Signature: sig}, nil
	case strings.HasSuffix(body, "ERROR"):
		return Result{}, fmt.Errorf("%w: clamd: %s", ErrScanner, printable(line))
	}
	return Result{}, fmt.Errorf("%w: clamd answered %q", ErrScanner, printable(line))
}

func printable(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
