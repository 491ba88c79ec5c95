package classifier

import "hash/maphash"

// tokenSet is the set of one message's tokens: an open-addressing table
// over a list, so that a token is hashed once whether it is new or not, a
// repeated one costs no allocation, and emptying the set costs what the
// message used rather than what the largest message ever did. A Go map did
// the same with two hashes per new token and was a fifth of Tokenize.
type tokenSet struct {
	seed   maphash.Seed
	slots  []int32 // index+1 into list; 0 is empty
	hashes []uint64
	list   []string
}

const minSlots = 1024

func newTokenSet() tokenSet {
	return tokenSet{seed: maphash.MakeSeed(), slots: make([]int32, minSlots)}
}

// addBytes adds the token b; it reports whether it was new.
func (s *tokenSet) addBytes(b []byte) bool {
	h := maphash.Bytes(s.seed, b)
	i, found := s.find(h, b)
	if found {
		return false
	}
	s.insert(i, h, string(b))
	return true
}

// add adds the token tok.
func (s *tokenSet) add(tok string) {
	h := maphash.String(s.seed, tok)
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		k := s.slots[i]
		if k == 0 {
			s.insert(i, h, tok)
			return
		}
		if s.hashes[k-1] == h && s.list[k-1] == tok {
			return
		}
	}
}

// find returns the slot of b, or the empty slot where it would go.
func (s *tokenSet) find(h uint64, b []byte) (int, bool) {
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		k := s.slots[i]
		if k == 0 {
			return i, false
		}
		if s.hashes[k-1] == h && s.list[k-1] == string(b) {
			return i, true
		}
	}
}

func (s *tokenSet) insert(slot int, h uint64, tok string) {
	s.list = append(s.list, tok)
	s.hashes = append(s.hashes, h)
	s.slots[slot] = int32(len(s.list))
	if 2*len(s.list) > len(s.slots) {
		s.grow()
	}
}

// grow doubles the table; the load stays at most one half.
func (s *tokenSet) grow() {
	slots := make([]int32, 2*len(s.slots))
	mask := len(slots) - 1
	for k, h := range s.hashes {
		i := int(h) & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = int32(k + 1)
	}
	s.slots = slots
}

func (s *tokenSet) len() int { return len(s.list) }

// reset empties the set, keeping a table of moderate size.
func (s *tokenSet) reset() {
	if len(s.slots) > 8*minSlots {
		s.slots = make([]int32, minSlots)
	} else {
		clear(s.slots)
	}
	clear(s.list)
	s.list = s.list[:0]
	s.hashes = s.hashes[:0]
}
