package classifier

import "hash/maphash"

// tokenSet is the set of one message's tokens: an open-addressing table
// over the tokens' bytes, kept one after the other in a single buffer, so
// that a token is hashed once whether it is new or not, a repeated one costs
// nothing, a new one costs no allocation of its own, and emptying the set
// costs what the message used rather than what the largest message ever
// did. A Go map did the same with two hashes per new token and was a fifth
// of Tokenize; a string per new token was another tenth.
type tokenSet struct {
	seed   maphash.Seed
	min    int     // slots kept by reset
	slots  []int32 // index+1 into ends; 0 is empty
	hashes []uint64
	// buf holds the tokens in the order they came; token k is
	// buf[ends[k-1]:ends[k]] (from 0 for the first).
	buf  []byte
	ends []int32
}

// newTokenSet returns a set of slots slots to begin with, a power of two.
func newTokenSet(slots int) tokenSet {
	return tokenSet{seed: maphash.MakeSeed(), min: slots, slots: make([]int32, slots)}
}

// addBytes adds the token b; it reports whether it was new.
func (s *tokenSet) addBytes(b []byte) bool {
	h := maphash.Bytes(s.seed, b)
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		k := s.slots[i]
		if k == 0 {
			s.buf = append(s.buf, b...)
			s.insert(i, h)
			return true
		}
		if s.hashes[k-1] == h && string(s.token(int(k-1))) == string(b) {
			return false
		}
	}
}

// add adds the token tok; it reports whether it was new.
func (s *tokenSet) add(tok string) bool {
	h := maphash.String(s.seed, tok)
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		k := s.slots[i]
		if k == 0 {
			s.buf = append(s.buf, tok...)
			s.insert(i, h)
			return true
		}
		if s.hashes[k-1] == h && string(s.token(int(k-1))) == tok {
			return false
		}
	}
}

// token returns the bytes of the token at index k.
func (s *tokenSet) token(k int) []byte {
	start := int32(0)
	if k > 0 {
		start = s.ends[k-1]
	}
	return s.buf[start:s.ends[k]]
}

// insert records the token just appended to buf, of hash h, in slot.
func (s *tokenSet) insert(slot int, h uint64) {
	s.ends = append(s.ends, int32(len(s.buf)))
	s.hashes = append(s.hashes, h)
	s.slots[slot] = int32(len(s.ends))
	if 2*len(s.ends) > len(s.slots) {
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

func (s *tokenSet) len() int { return len(s.ends) }

// strings returns the tokens in the order they came. They are substrings
// of one string, made in one allocation: they share no memory with the set,
// which goes on with other messages, nor with the message.
func (s *tokenSet) strings() []string {
	all := string(s.buf)
	out := make([]string, len(s.ends))
	start := int32(0)
	for k, end := range s.ends {
		out[k] = all[start:end]
		start = end
	}
	return out
}

// reset empties the set, keeping a table and buffer of moderate size.
func (s *tokenSet) reset() {
	if len(s.slots) > 8*s.min {
		s.slots = make([]int32, s.min)
	} else {
		clear(s.slots)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	s.buf = s.buf[:0]
	s.ends = s.ends[:0]
	s.hashes = s.hashes[:0]
}
