package classifier

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
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

// rankClues returns the cands' clues in compareCands order.
// TestRankCluesMatchesSort holds the two to the same answers.
func rankClues(cands []cand) []Clue {
	keys := make([]rankKey, len(cands))
	for i, c := range cands {
		if !(c.dev >= 0) || math.IsInf(c.dev, 0) {
			// Not a deviation rankKey can order (NaN, negative):
			// compareCands says where it goes.
			return rankCluesSlow(cands)
		}
		keys[i] = rankKey{dev: math.Float64bits(c.dev), prefix: tokenPrefix(c.Token), i: i}
	}
	slices.SortFunc(keys, func(a, b rankKey) int {
		if a.dev != b.dev {
			if a.dev > b.dev {
				return -1
			}
			return 1
		}
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		return strings.Compare(cands[a.i].Token, cands[b.i].Token)
	})
	clues := make([]Clue, len(cands))
	for k, key := range keys {
		clues[k] = cands[key.i].Clue
	}
	return clues
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
