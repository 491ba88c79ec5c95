package classifier

import (
	"bytes"
	"testing"

	"mailguard/internal/testutil/seeds"
)

// decodeQPByByte is decodeQP as first written, a byte at a time: the
// reference the faster one is held to.
func decodeQPByByte(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && (b[j] == '\n' || b[j] == '\r') {
			i = j
			if b[j] == '\r' && j+1 < len(b) && b[j+1] == '\n' {
				i = j + 1
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

func TestDecodeQP(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"caf=E9 =\nau lait", "caf\xe9 au lait"},
		{"soft=\r\nbreak", "softbreak"},
		{"space before break= \t\nend", "space before breakend"},
		{"bad =ZZ and =", "bad =ZZ and ="},
		{"=3D=3d", "=="},
		{"", ""},
		{"=", "="},
		{"end=4", "end=4"},
	} {
		if got := decodeQP([]byte(c.in)); string(got) != c.want {
			t.Errorf("decodeQP(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzDecodeQP: decodeQP agrees with the byte-at-a-time decoder on any
// input. Seeds are testdata/qp.eml and testdata/fuzz/FuzzDecodeQP.
func FuzzDecodeQP(f *testing.F) {
	seeds.AddFiles(f, "testdata/qp.eml")
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := decodeQP(b), decodeQPByByte(b); !bytes.Equal(got, want) {
			t.Fatalf("decodeQP(%q) = %q, byte by byte %q", b, got, want)
		}
	})
}

// BenchmarkDecodeQP decodes the quoted-printable sample body.
func BenchmarkDecodeQP(b *testing.B) {
	body := bytes.Repeat([]byte("Caf=E9 au lait, na=EFve fa=E7ade: the words of a mailer that wraps its lines =\n"), 64)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		decodeQP(body)
	}
}

// BenchmarkDecodeQPByByte is the reference, for comparison.
func BenchmarkDecodeQPByByte(b *testing.B) {
	body := bytes.Repeat([]byte("Caf=E9 au lait, na=EFve fa=E7ade: the words of a mailer that wraps its lines =\n"), 64)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		decodeQPByByte(body)
	}
}
