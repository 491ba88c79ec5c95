package filters

import (
	"bytes"
	"testing"
)

// scanBytewise is the spool's scan as it was written first, a byte at a
// time: the reference the line-at-a-time scan is held to.
func (s *Spool) scanBytewise(p []byte) {
	pos := s.size
	for i, c := range p {
		switch c {
		case 0:
			s.hasNUL = true
		case '\n':
			if !s.headerEnded && s.atLineStart {
				s.headerEnded = true
				s.headerLen = pos + int64(i) + 1
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
			continue
		}
		if c == '\r' {
			if s.prevCR {
				s.lineLen++
			}
			s.prevCR = true
			continue
		}
		if s.prevCR {
			s.lineLen++
			s.prevCR = false
		}
		if c >= 0x80 && !s.headerEnded {
			s.header8bit = true
		}
		s.lineLen++
		s.atLineStart = false
	}
}

// FuzzSpoolScan feeds the same bytes, cut into pieces at the same places,
// to both scans; every fact they keep must agree after every piece.
func FuzzSpoolScan(f *testing.F) {
	for _, seed := range []string{
		"Subject: x\r\n\r\nbody\r\n",
		"A: b\n\nc\r\r\nd\re\r",
		"\r\n\r\nx",
		"\r\r\n",
		"H: \xe9\r\n \xff\r\n\r\n\x00\xff\r",
		"From: a\r\n" + string(bytes.Repeat([]byte("x"), 1200)) + "\r\n",
	} {
		f.Add([]byte(seed), uint8(3), uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, step, skew uint8) {
		a, r := NewSpool(SpoolConfig{}), NewSpool(SpoolConfig{})
		piece := int(step%32) + 1
		for i := 0; i < len(b); {
			n := min(piece+int(skew)%(i%5+1), len(b)-i)
			a.scan(b[i : i+n])
			r.scanBytewise(b[i : i+n])
			a.size += int64(n)
			r.size += int64(n)
			i += n
			if a.hasNUL != r.hasNUL || a.header8bit != r.header8bit || a.headerEnded != r.headerEnded || a.headerLen != r.headerLen ||
				a.line != r.line || a.lineLen != r.lineLen || a.longest != r.longest || a.longLineAt != r.longLineAt ||
				a.prevCR != r.prevCR || a.atLineStart != r.atLineStart {
				t.Fatalf("after %d of %q:\nscan     %+v\nbytewise %+v", i, b, scanFacts(a), scanFacts(r))
			}
		}
	})
}

func scanFacts(s *Spool) []any {
	return []any{s.hasNUL, s.header8bit, s.headerEnded, s.headerLen, s.line, s.lineLen, s.longest, s.longLineAt, s.prevCR, s.atLineStart}
}

// BenchmarkSpoolScan compares the two scans on a corpus-like message.
func BenchmarkSpoolScan(b *testing.B) {
	msg := []byte("From: a@example.com\r\nSubject: a test\r\n\r\n" + string(bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog, 0123456789.\r\n"), 200)))
	for _, bc := range []struct {
		name string
		scan func(*Spool, []byte)
	}{{"bytewise", (*Spool).scanBytewise}, {"lines", (*Spool).scan}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				s := NewSpool(SpoolConfig{})
				for i := 0; i < len(msg); i += 4096 {
					bc.scan(s, msg[i:min(i+4096, len(msg))])
				}
			}
		})
	}
}
