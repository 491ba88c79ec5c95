package filters

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Field is one header field as it arrived.
type Field struct {
	// Name is as written (case kept).
	Name string
	// Value is unfolded and trimmed of surrounding white space.
	Value string
	// Raw is the field's exact bytes, continuation lines and line endings
	// included, for byte-exact relaying. Empty for fields a check added.
	Raw []byte
}

// Header is the message's header section in order.
type Header []Field

// Get returns the value of the first field named name (case-insensitive).
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns the values of every field named name, in order.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Count returns how many fields are named name.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool { return h.Count(name) > 0 }

// Message is a received message, held in memory or spooled to disk. The
// facts every check needs are computed once while it is received.
type Message struct {
	Header Header
	// HeaderFaults lists lines of the header section that are neither a
	// field nor a continuation, as "line N: ..." descriptions.
	HeaderFaults []string
	// HeaderTruncated is true when the header section exceeded the parse
	// limit; Header then holds the fields before it.
	HeaderTruncated bool
	// HeaderLen is the length in bytes of the header section including the
	// blank line that ends it (or the whole message when there is none).
	HeaderLen int64
	// Size is the message's size in bytes as received.
	Size int64
	// HasNUL is true when a NUL byte appeared anywhere.
	HasNUL bool
	// LongestLine is the length of the longest line, without its line end.
	LongestLine int
	// LongLineAt is the 1-based number of the first line over 998 octets.
	LongLineAt int
	// Has8Bit is true when a byte over 127 appeared in the header section.
	Header8Bit bool

	open func() (io.ReadCloser, error)
	mem  []byte // the message when held in memory
}

// Open returns a reader of the whole message as received.
func (m *Message) Open() (io.ReadCloser, error) { return m.open() }

// Bytes returns the whole message as received when it is held in memory
// (not spooled to a file), for a check to read in place rather than copy:
// the caller must not modify it. ok is false for a spooled message; Open
// reads that one.
func (m *Message) Bytes() (b []byte, ok bool) { return m.mem, m.open != nil && m.mem != nil }

// Head returns at most max bytes from the start of the message: in place
// when it is held in memory (the caller must not modify them), else read
// from its spool file. Checks that read a bounded prefix (the classifier's
// and the URI lists' max_bytes) use it.
func (m *Message) Head(max int64) ([]byte, error) {
	if b, ok := m.Bytes(); ok {
		return b[:min(int64(len(b)), max)], nil
	}
	rc, err := m.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}

// OpenBody returns a reader of the body (after the blank line).
func (m *Message) OpenBody() (io.ReadCloser, error) {
	rc, err := m.open()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, m.HeaderLen); err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, fmt.Errorf("skip header: %w", err)
	}
	return rc, nil
}

// NewMessage builds a Message from bytes in memory; tests and the milter's
// small messages use it.
func NewMessage(b []byte) *Message {
	s := NewSpool(SpoolConfig{MemLimit: len(b) + 1})
	s.Write(b)
	m, _ := s.Message()
	return m
}

// SpoolConfig bounds the memory a message may take.
type SpoolConfig struct {
	// Dir is where messages larger than MemLimit are written; "" is the
	// system's temporary directory.
	Dir string
	// MemLimit is how many bytes stay in memory before spilling to a file.
	MemLimit int
	// MaxHeaderBytes bounds the parsed header section (default 1 MiB).
	MaxHeaderBytes int
}

const (
	defaultMemLimit       = 1 << 20
	defaultMaxHeaderBytes = 1 << 20
	maxLineOctets         = 998
)

// Spool receives a message as it streams in, computes the facts the checks
// need on the way, and keeps at most MemLimit bytes in memory: the rest goes
// to a temporary file removed by Close.
type Spool struct {
	cfg  SpoolConfig
	buf  bytes.Buffer
	f    *os.File
	size int64

	hasNUL      bool
	line        int // current line number, 1-based
	lineLen     int
	longest     int
	longLineAt  int
	prevCR      bool
	err         error
	headerEnded bool
	headerLen   int64
	header8bit  bool
	atLineStart bool
}

// NewSpool starts an empty spool.
func NewSpool(cfg SpoolConfig) *Spool {
	if cfg.MemLimit <= 0 {
		cfg.MemLimit = defaultMemLimit
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	return &Spool{cfg: cfg, line: 1, atLineStart: true}
}

// Write appends message bytes.
func (s *Spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.scan(p)
	if s.f == nil && s.buf.Len()+len(p) > s.cfg.MemLimit {
		f, err := os.CreateTemp(s.cfg.Dir, "spool-*")
		if err != nil {
			s.err = fmt.Errorf("spool: %w", err)
			return 0, s.err
		}
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			f.Close()
			os.Remove(f.Name())
			s.err = fmt.Errorf("spool: %w", err)
			return 0, s.err
		}
		s.buf = bytes.Buffer{}
		s.f = f
	}
	if s.f != nil {
		n, err := s.f.Write(p)
		s.size += int64(n)
		if err != nil {
			s.err = fmt.Errorf("spool: %w", err)
		}
		return n, s.err
	}
	s.buf.Write(p)
	s.size += int64(len(p))
	return len(p), nil
}

// scan tracks NUL bytes, line lengths and the end of the header section.
// It works a line at a time: a line's length is its bytes but the line
// feed and one carriage return just before it, a carriage return at the
// end of p being counted only once the next byte shows it does not end
// the line. FuzzSpoolScan holds it to the byte-at-a-time reading.
func (s *Spool) scan(p []byte) {
	pos := s.size
	off := 0
	for {
		seg := p[off:]
		nl := bytes.IndexByte(seg, '\n')
		if nl >= 0 {
			seg = seg[:nl]
		}
		if len(seg) > 0 {
			if !s.hasNUL && bytes.IndexByte(seg, 0) >= 0 {
				s.hasNUL = true
			}
			if !s.headerEnded && !s.header8bit && hasHighByte(seg) {
				s.header8bit = true
			}
			n := len(seg)
			if s.prevCR {
				n++ // the carriage return before seg did not end the line
			}
			s.prevCR = seg[len(seg)-1] == '\r'
			if s.prevCR {
				n-- // it may yet end it
			}
			s.lineLen += n
			if s.atLineStart && len(bytes.TrimLeft(seg, "\r")) > 0 {
				s.atLineStart = false
			}
		}
		if nl < 0 {
			return
		}
		if !s.headerEnded && s.atLineStart {
			// An empty line (LF or CRLF) ends the header section.
			s.headerEnded = true
			s.headerLen = pos + int64(off+nl) + 1
		}
		if s.lineLen > s.longest {
			s.longest = s.lineLen
		}
		if s.lineLen > maxLineOctets && s.longLineAt == 0 {
			s.longLineAt = s.line
		}
		s.line++
		s.lineLen = 0
		s.prevCR = false
		s.atLineStart = true
		off += nl + 1
	}
}

// hasHighByte reports whether b holds a byte over 127.
func hasHighByte(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Size is the number of bytes received so far.
func (s *Spool) Size() int64 { return s.size }

// Message finishes the spool and returns the parsed message. The spool must
// stay open (not Closed) while the message is read.
func (s *Spool) Message() (*Message, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.lineLen > s.longest {
		s.longest = s.lineLen
	}
	if s.lineLen > maxLineOctets && s.longLineAt == 0 {
		s.longLineAt = s.line
	}
	m := &Message{
		Size:        s.size,
		HasNUL:      s.hasNUL,
		LongestLine: s.longest,
		LongLineAt:  s.longLineAt,
		Header8Bit:  s.header8bit,
	}
	if s.headerEnded {
		m.HeaderLen = s.headerLen
	} else {
		m.HeaderLen = s.size
	}
	if s.f != nil {
		name := s.f.Name()
		m.open = func() (io.ReadCloser, error) { return os.Open(name) }
	} else {
		b := s.buf.Bytes()
		if b == nil {
			b = []byte{}
		}
		m.mem = b
		m.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	rc, err := m.open()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer rc.Close()
	limit := m.HeaderLen
	if limit > int64(s.cfg.MaxHeaderBytes) {
		limit = int64(s.cfg.MaxHeaderBytes)
		m.HeaderTruncated = true
	}
	m.Header, m.HeaderFaults = ParseHeader(io.LimitReader(rc, limit))
	return m, nil
}

// Close removes the spool file, if any.
func (s *Spool) Close() error {
	if s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	s.f = nil
	return err
}

// ParseHeader reads a header section up to the blank line that ends it (or
// the end of r). It never fails: lines that are neither a field nor a
// continuation are reported in faults and skipped, so checks can name them.
func ParseHeader(r io.Reader) (h Header, faults []string) {
	br := bufio.NewReader(r)
	n := 0
	var cur *Field
	valueAt := 0
	flush := func() {
		if cur != nil {
			cur.Value = Unfold(cur.Raw[valueAt:])
			h = append(h, *cur)
			cur = nil
		}
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			break
		}
		n++
		body := bytes.TrimRight(line, "\r\n")
		if len(body) == 0 {
			break // the blank line ending the header section
		}
		if body[0] == ' ' || body[0] == '\t' {
			if cur == nil {
				faults = append(faults, fmt.Sprintf("line %d: continuation without a field", n))
				continue
			}
			cur.Raw = append(cur.Raw, line...)
			continue
		}
		flush()
		colon := bytes.IndexByte(body, ':')
		if colon <= 0 || !ValidFieldName(body[:colon]) {
			faults = append(faults, fmt.Sprintf("line %d: not a header field", n))
			continue
		}
		cur = &Field{Name: string(bytes.TrimRight(body[:colon], " \t")), Raw: append([]byte(nil), line...)}
		valueAt = colon + 1
		if err != nil {
			break
		}
	}
	flush()
	return h, faults
}

// ValidFieldName follows RFC 5322 section 3.6.8: printable US-ASCII except
// colon. Trailing white space before the colon is tolerated, as MTAs do.
func ValidFieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// Unfold drops every CR and LF of a raw field value, then the white space
// around it.
func Unfold(b []byte) string {
	if !bytes.ContainsAny(b, "\r\n") {
		return strings.TrimSpace(string(b))
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}
