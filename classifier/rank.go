package classifier

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
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
	sortKeys(cands, keys, 2*bits.Len(uint(len(keys))))
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

// keyLess is compareCands(cands[a.i], cands[b.i]) < 0 for cands that
// rankKey can order.
func keyLess(cands []cand, a, b *rankKey) bool {
	if a.dev != b.dev {
		return a.dev > b.dev
	}
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return cands[a.i].Token < cands[b.i].Token
}

// sortKeys sorts k by keyLess: a quicksort (median of three, Hoare's
// partition) that falls back to heapsort after depth levels, with
// insertion sort for short runs. It is slices.SortFunc's work without a
// call through a function value for each of the comparisons, which were
// most of the ranking's time; the keys are distinct (a message's tokens
// are), so any correct sort gives the same order.
func sortKeys(cands []cand, k []rankKey, depth int) {
	for len(k) > 12 {
		if depth == 0 {
			heapSortKeys(cands, k)
			return
		}
		depth--
		n := len(k)
		m := n / 2
		if keyLess(cands, &k[m], &k[0]) {
			k[m], k[0] = k[0], k[m]
		}
		if keyLess(cands, &k[n-1], &k[m]) {
			k[n-1], k[m] = k[m], k[n-1]
			if keyLess(cands, &k[m], &k[0]) {
				k[m], k[0] = k[0], k[m]
			}
		}
		pivot := k[m]
		i, j := -1, n
		for {
			for i++; keyLess(cands, &k[i], &pivot); i++ {
			}
			for j--; keyLess(cands, &pivot, &k[j]); j-- {
			}
			if i >= j {
				break
			}
			k[i], k[j] = k[j], k[i]
		}
		// k[:j+1] holds no key above the pivot, k[j+1:] none below.
		if j+1 < n-j-1 {
			sortKeys(cands, k[:j+1], depth)
			k = k[j+1:]
		} else {
			sortKeys(cands, k[j+1:], depth)
			k = k[:j+1]
		}
	}
	for i := 1; i < len(k); i++ {
		for j := i; j > 0 && keyLess(cands, &k[j], &k[j-1]); j-- {
			k[j], k[j-1] = k[j-1], k[j]
		}
	}
}

func heapSortKeys(cands []cand, k []rankKey) {
	down := func(root, n int) {
		for {
			child := 2*root + 1
			if child >= n {
				return
			}
			if child+1 < n && keyLess(cands, &k[child], &k[child+1]) {
				child++
			}
			if !keyLess(cands, &k[root], &k[child]) {
				return
			}
			k[root], k[child] = k[child], k[root]
			root = child
		}
	}
	for i := len(k)/2 - 1; i >= 0; i-- {
		down(i, len(k))
	}
	for end := len(k) - 1; end > 0; end-- {
		k[0], k[end] = k[end], k[0]
		down(0, end)
	}
}
