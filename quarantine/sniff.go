package quarantine

import (
	"bytes"
	"io"

	"mailguard/filters"
)

// maxSniff bounds the header bytes kept to find From and Subject.
const maxSniff = 64 << 10

// sniffer passes a message through while keeping the start of its header
// section, so a store can fill in From and Subject without reading the
// message twice or holding more than maxSniff bytes of it.
type sniffer struct {
	r    io.Reader
	head bytes.Buffer
	n    int64
}

func (s *sniffer) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if room := maxSniff - s.head.Len(); room > 0 && n > 0 {
		s.head.Write(p[:min(n, room)])
	}
	return n, err
}

// fill sets e's Size, From and Subject from what passed through.
func (s *sniffer) fill(e *Entry) {
	e.Size = s.n
	h, _ := filters.ParseHeader(bytes.NewReader(s.head.Bytes()))
	e.From = h.Get("From")
	e.Subject = h.Get("Subject")
}
