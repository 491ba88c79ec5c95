package classifier

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
)

// cand is a token that passed MinDev, with its deviation from 0.5.
type cand struct {
	dev float64
	Clue
}

// compareCands is the clues' order: most extreme first, then by token,
// so that the order (and Fisher's sum over it) does not depend on the
// order the tokens came in.
func compareCands(a, b cand) int {
	if a.dev != b.dev {
		return cmp.Compare(b.dev, a.dev)
	}
	return strings.Compare(a.Token, b.Token)
}

// rankKey is what rankClues sorts: a cand's deviation as bits (ordered as
// the non-negative floats are), the first eight bytes of its token and
// its index. It holds no pointer, so the sort's swaps are plain copies,
// and most ties of deviation, which are common since every token seen the
// same number of times has the same one, are settled without reading the
// token.
type rankKey struct {
	dev    uint64
	prefix uint64
	i      int
}

// rankScratch holds a message's cands and rank keys between messages:
// several hundred of each a message (32 and 24 bytes), a fifth of the
// bytes the chain allocated for one.
type rankScratch struct {
	cands []cand
	keys  []rankKey
}

var rankScratchPool = sync.Pool{New: func() any { return new(rankScratch) }}

func getRankScratch() *rankScratch { return rankScratchPool.Get().(*rankScratch) }

// putRankScratch returns s to the pool, without its tokens; a scratch
// grown by a huge message is left to the collector.
func putRankScratch(s *rankScratch) {
	if cap(s.cands) > maxTokens || cap(s.keys) > maxTokens {
		return
	}
	clear(s.cands)
	s.cands = s.cands[:0]
	rankScratchPool.Put(s)
}

// rank is rankClues(s.cands), with s.keys for the keys.
func (s *rankScratch) rank() []Clue {
	clues, keys := rankCluesKeys(s.cands, s.keys[:0])
	s.keys = keys
	return clues
}

// rankClues returns the cands' clues in compareCands order.
// TestRankCluesMatchesSort holds the two to the same answers.
func rankClues(cands []cand) []Clue {
	clues, _ := rankCluesKeys(cands, nil)
	return clues
}

// rankCluesKeys is rankClues with keys' array for the keys; it returns
// the keys' slice, for the next message.
func rankCluesKeys(cands []cand, keys []rankKey) ([]Clue, []rankKey) {
	keys = slices.Grow(keys[:0], len(cands))[:len(cands)]
	for i, c := range cands {
		if !(c.dev >= 0) || math.IsInf(c.dev, 0) {
			// Not a deviation rankKey can order (NaN, negative):
			// compareCands says where it goes.
			return rankCluesSlow(cands), keys
		}
		keys[i] = rankKey{dev: math.Float64bits(c.dev), prefix: tokenPrefix(c.Token), i: i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int {
		if c := cmp.Compare(b.dev, a.dev); c != 0 {
			return c
		}
		if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
			return c
		}
		return strings.Compare(cands[a.i].Token, cands[b.i].Token)
	})
	clues := make([]Clue, len(cands))
	for k, key := range keys {
		clues[k] = cands[key.i].Clue
	}
	return clues, keys
}

// rankCluesSlow is rankClues by compareCands alone.
func rankCluesSlow(cands []cand) []Clue {
	slices.SortFunc(cands, compareCands)
	clues := make([]Clue, len(cands))
	for i, cd := range cands {
		clues[i] = cd.Clue
	}
	return clues
}

// tokenPrefix is the first eight bytes of tok, big-endian, padded with
// zeros: two tokens whose prefixes differ compare as their prefixes do.
func tokenPrefix(tok string) uint64 {
	var b [8]byte
	copy(b[:], tok)
	return binary.BigEndian.Uint64(b[:])
}
