package smtp

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// writeDot writes msg through the block dot writer, cut into chunks of
// the given size.
func writeDot(msg []byte, chunk int) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	d := &dotWriter{w: bw}
	for len(msg) > 0 {
		n := chunk
		if n > len(msg) {
			n = len(msg)
		}
		d.Write(msg[:n])
		msg = msg[n:]
	}
	d.Close()
	return out.Bytes()
}

// textprotoDot is what net/textproto's DotWriter makes of msg.
func textprotoDot(msg []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := textproto.NewWriter(bw).DotWriter()
	w.Write(msg)
	w.Close()
	return out.Bytes()
}

var dotSeeds = []string{
	"",
	"a",
	".",
	"\n",
	"\r",
	"\r\n",
	"a\r\n.\r\nb",
	".leading\r\n..two\r\n",
	"bare\nlf\n.dot\n",
	"bare\rcr\r.dot\r",
	"\r\r\n.\r\n",
	"end with cr\r",
	"line\r\n\r\n.\r\n\r\n",
}

func TestDotWriterMatchesTextproto(t *testing.T) {
	for _, s := range dotSeeds {
		want := textprotoDot([]byte(s))
		for _, chunk := range []int{1, 2, 3, 7, 4096} {
			if got := writeDot([]byte(s), chunk); !bytes.Equal(got, want) {
				t.Errorf("%q in chunks of %d: %q, textproto writes %q", s, chunk, got, want)
			}
		}
	}
}

func FuzzDotWriter(f *testing.F) {
	for _, s := range dotSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint8) {
		want := textprotoDot(msg)
		if got := writeDot(msg, int(chunk)+1); !bytes.Equal(got, want) {
			t.Fatalf("%q in chunks of %d: %q, textproto writes %q", msg, int(chunk)+1, got, want)
		}
	})
}

func BenchmarkDotWriter(b *testing.B) {
	msg := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n"), 160)
	var out bytes.Buffer
	b.Run("block", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for i := 0; i < b.N; i++ {
			out.Reset()
			d := &dotWriter{w: bufio.NewWriter(&out)}
			d.Write(msg)
			d.Close()
		}
	})
	b.Run("textproto", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for i := 0; i < b.N; i++ {
			out.Reset()
			w := textproto.NewWriter(bufio.NewWriter(&out)).DotWriter()
			w.Write(msg)
			w.Close()
		}
	})
}
