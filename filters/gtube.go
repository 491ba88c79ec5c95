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
		if bytes.Contains(joined, gtube) {
			g.found = true
			return len(p), nil
		}
		g.tail = joined[:len(g.tail)]
	}
	if bytes.Contains(p, gtube) {
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
