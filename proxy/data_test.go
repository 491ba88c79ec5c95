package proxy

import (
	"bytes"
	"io"
	"testing"
)

// refLineEnds and refLimit are the byte-at-a-time definitions the block
// versions in data.go must match.
func refLineEnds(b []byte) []byte {
	var out bytes.Buffer
	cr := false
	for _, c := range b {
		switch {
		case c == '\r':
			cr = true
			continue
		case c == '\n':
			out.WriteString("\r\n")
		default:
			if cr {
				out.WriteString("\r\n")
			}
			out.WriteByte(c)
		}
		cr = false
	}
	if cr {
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

// refLimit returns what passes a limit of max octets a line and the number
// of the first line over it (0 when none).
func refLimit(b []byte, max int) ([]byte, int) {
	line, n := 0, 0
	for i, c := range b {
		if c == '\n' {
			line++
			n = 0
			continue
		}
		if n++; n > max+1 || n == max+1 && c != '\r' {
			return b[:i], line + 1
		}
	}
	return b, 0
}

// pipeline writes msg in chunks through lineLimiter and lineEnds, as
// session.Data does.
func pipeline(msg []byte, chunk, max int) ([]byte, int) {
	var out bytes.Buffer
	l := &lineLimiter{w: &lineEnds{w: &out}, max: max}
	for len(msg) > 0 {
		n := min(chunk, len(msg))
		l.Write(msg[:n])
		msg = msg[n:]
	}
	l.Close()
	return out.Bytes(), l.overAt
}

var dataSeeds = []string{
	"", "a", "\r", "\n", "\r\n", "\r\r\n", "\r\r", "a\rb", "a\nb\r\nc\r\r\nd\re",
	"12345\r\n123456\r\n", "1234\r\r\n", "12345\r", "123456", "12345\r\nabcdef\r\n",
	"\r\n.\r\n", "\n.\n", "\r.\r", "line\r\r\r\r\nnext",
}

func checkData(t *testing.T, msg []byte, chunk, max int) {
	t.Helper()
	passed, overAt := refLimit(msg, max)
	want := refLineEnds(passed)
	if overAt > 0 {
		// Past the limit the line-end writer is not closed: a CR it holds
		// is not written.
		want = bytes.TrimSuffix(want, []byte("\r\n"))
		if !bytes.HasSuffix(passed, []byte("\r")) {
			want = refLineEnds(passed)
		}
	}
	got, gotOver := pipeline(msg, chunk, max)
	if gotOver != overAt || !bytes.Equal(got, want) {
		t.Fatalf("%q (chunks of %d, max %d): %q over at line %d; want %q over at line %d", msg, chunk, max, got, gotOver, want, overAt)
	}
}

func TestLineWritersMatchByteAtATime(t *testing.T) {
	for _, s := range dataSeeds {
		for _, chunk := range []int{1, 2, 3, 5, 4096} {
			for _, max := range []int{1, 3, 5, 1000} {
				checkData(t, []byte(s), chunk, max)
			}
		}
	}
}

func FuzzLineWriters(f *testing.F) {
	for _, s := range dataSeeds {
		f.Add([]byte(s), uint8(2), uint8(5))
	}
	f.Fuzz(func(t *testing.T, msg []byte, chunk, max uint8) {
		checkData(t, msg, int(chunk)+1, int(max)+1)
	})
}

func BenchmarkLineWriters(b *testing.B) {
	msg := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n"), 160)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		l := &lineLimiter{w: &lineEnds{w: io.Discard}, max: 2000}
		l.Write(msg)
		l.Close()
	}
}
