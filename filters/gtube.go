package filters

import "bytes"

// gtubeMatcher looks for the GTUBE test string in a stream written to it in
// pieces of any size, keeping only the tail that could begin a match across
// two writes.
type gtubeMatcher struct {
	found bool
	tail  []byte
}

var gtube = []byte(gtubeString)

// gtubeCore is a part of the GTUBE string that it holds once, at
// gtubeCoreAt. bytes.Index finds a pattern this short with vector
// instructions; the whole 68-byte string it searches a byte at a time
// (Rabin-Karp), which was 2% of the gateway's CPU under load.
var (
	gtubeCore   = []byte("*GTUBE-STANDARD")
	gtubeCoreAt = bytes.Index(gtube, gtubeCore)
)

// containsGTUBE is containsGTUBE(p).
func containsGTUBE(p []byte) bool {
	for off := 0; ; {
		i := bytes.Index(p[off:], gtubeCore)
		if i < 0 {
			return false
		}
		start := off + i - gtubeCoreAt
		if start >= 0 && start+len(gtube) <= len(p) && bytes.Equal(p[start:start+len(gtube)], gtube) {
			return true
		}
		off += i + 1
	}
}

// Write never fails, so it can sit behind an io.TeeReader.
func (g *gtubeMatcher) Write(p []byte) (int, error) {
	if g.found || len(p) == 0 {
		return len(p), nil
	}
	if len(g.tail) > 0 {
		// A match straddling the previous write and this one lies within
		// the tail and the first len(gtube)-1 bytes of p.
		head := p
		if len(head) > len(gtube)-1 {
			head = head[:len(gtube)-1]
		}
		joined := append(g.tail, head...)
		if containsGTUBE(joined) {
			g.found = true
			return len(p), nil
		}
		g.tail = joined[:len(g.tail)]
	}
	if containsGTUBE(p) {
		g.found = true
		return len(p), nil
	}
	keep := len(gtube) - 1
	if len(p) >= keep {
		g.tail = append(g.tail[:0], p[len(p)-keep:]...)
	} else {
		g.tail = append(g.tail, p...)
		if len(g.tail) > keep {
			g.tail = append(g.tail[:0], g.tail[len(g.tail)-keep:]...)
		}
	}
	return len(p), nil
}
