package smtp

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// refData is the byte-at-a-time definition of the data reader: the text
// before CRLF "." CRLF with transparency dots removed, and whether the end
// marker was found.
func refData(in []byte) ([]byte, bool) {
	var out []byte
	state := stateBeginLine
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch state {
		case stateBeginLine:
			if c == '.' {
				state = stateDot
				continue
			}
		case stateDot:
			if c == '\r' {
				state = stateDotCR
				continue
			}
		case stateDotCR:
			if c == '\n' {
				return out, true
			}
			out = append(out, '\r')
			state = stateData
			i--
			continue
		case stateCR:
			if c == '\n' {
				state = stateBeginLine
				out = append(out, c)
				continue
			}
		}
		if c == '\r' {
			state = stateCR
		} else {
			state = stateData
		}
		out = append(out, c)
	}
	return out, false
}

// readData reads in through a dataReader over a small bufio buffer, chunk
// bytes a Read.
func readData(in []byte, chunk int) ([]byte, bool) {
	dr := &dataReader{r: bufio.NewReaderSize(bytes.NewReader(in), 16)}
	var out []byte
	buf := make([]byte, chunk)
	for {
		n, err := dr.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return out, false
		}
	}
}

var dataReaderSeeds = []string{
	"", ".\r\n", "a\r\n.\r\n", "..a\r\n.\r\n", "a\r\r\n.\r\n", "a\n.\n", "a\r.\r", "a\r\n.\n",
	"a\n.\r\n", ".\rx\r\n.\r\n", "long line without any carriage return at all\r\n.\r\nafter",
	"x\r\n..\r\n.\r\n", "\r\n\r\n.\r\n",
}

func TestDataReaderMatchesByteAtATime(t *testing.T) {
	for _, s := range dataReaderSeeds {
		want, wantEnd := refData([]byte(s))
		for _, chunk := range []int{1, 2, 3, 7, 64} {
			got, end := readData([]byte(s), chunk)
			if !bytes.Equal(got, want) || end != wantEnd {
				t.Errorf("%q in reads of %d: %q end %v, want %q end %v", s, chunk, got, end, want, wantEnd)
			}
		}
	}
}

func FuzzDataReader(f *testing.F) {
	for _, s := range dataReaderSeeds {
		f.Add([]byte(s), uint8(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		want, wantEnd := refData(in)
		got, end := readData(in, int(chunk)+1)
		if !bytes.Equal(got, want) || end != wantEnd {
			t.Fatalf("%q in reads of %d: %q end %v, want %q end %v", in, int(chunk)+1, got, end, want, wantEnd)
		}
	})
}

func BenchmarkDataReader(b *testing.B) {
	msg := append(bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n"), 160), ".\r\n"...)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		dr := &dataReader{r: bufio.NewReaderSize(bytes.NewReader(msg), 4096)}
		for {
			if _, err := dr.Read(buf); err != nil {
				break
			}
		}
	}
}
