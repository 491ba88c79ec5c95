package authres

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"mailguard/filters"
)

// maxFromBytes bounds how much of one From field is kept when the From
// fields are read again from the message (allFroms).
const maxFromBytes = 64 << 10

// fromValues returns the values of every From field of the message. The
// parsed header stops at a size bound (filters.Message.HeaderTruncated);
// an author named past it must be evaluated too, so the header section is
// then read again as a stream, keeping only From fields (each up to
// maxFromBytes), in bounded memory.
func fromValues(m *filters.Message) ([]string, error) {
	if !m.HeaderTruncated {
		return m.Header.Values("From"), nil
	}
	rc, err := m.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return scanFroms(io.LimitReader(rc, m.HeaderLen))
}

// scanFroms reads a header section and returns its From values, unfolded,
// with the grammar filters.ParseHeader uses.
func scanFroms(r io.Reader) ([]string, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var (
		froms   []string
		cur     []byte
		inFrom  bool
		midLine bool
	)
	flush := func() {
		if inFrom {
			froms = append(froms, filters.Unfold(cur))
		}
		inFrom, cur = false, cur[:0]
	}
	keep := func(b []byte) {
		if inFrom && len(cur) < maxFromBytes {
			cur = append(cur, b[:min(len(b), maxFromBytes-len(cur))]...)
		}
	}
	for {
		piece, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
			return nil, err
		}
		if len(piece) > 0 {
			switch {
			case midLine, piece[0] == ' ' || piece[0] == '\t':
				keep(piece)
			case len(bytes.TrimRight(piece, "\r\n")) == 0:
				flush()
				return froms, nil
			default:
				flush()
				colon := bytes.IndexByte(piece, ':')
				if colon > 0 && filters.ValidFieldName(piece[:colon]) && bytes.EqualFold(bytes.TrimRight(piece[:colon], " \t"), []byte("From")) {
					inFrom = true
					keep(piece[colon+1:])
				}
			}
			midLine = err != nil
		}
		if err == io.EOF {
			flush()
			return froms, nil
		}
	}
}
