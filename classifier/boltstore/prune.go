package boltstore

import (
	"encoding/binary"
	"slices"
)

// pruneTokens deletes tokens until target remain: hapaxes (seen in one
// message) first, then the rest, each group least recently learnt first.
// A hapax is most of a token table and says least; an old token is one
// the mail stopped using.
func (l *learner) pruneTokens(target uint64) error {
	type cand struct {
		h     uint64
		hapax bool
		day   uint16
	}
	cands := make([]cand, 0, l.tokenCount)
	c := l.tokens.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		for ; len(v) >= entrySize; v = v[entrySize:] {
			h, t := decodeEntry(v)
			cands = append(cands, cand{h, t.spam+t.ham <= 1, t.day})
		}
	}
	l.tokenCount = uint64(len(cands))
	if l.tokenCount <= target {
		return nil
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.hapax != b.hapax:
			if a.hapax {
				return -1
			}
			return 1
		case a.day != b.day:
			return int(a.day) - int(b.day)
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	gone := make([]uint64, 0, l.tokenCount-target)
	for _, c := range cands[:l.tokenCount-target] {
		gone = append(gone, c.h)
	}
	slices.Sort(gone)
	// Rewrite the blocks holding them, all read before any is written.
	bc := newBlockCursor(l.tokens)
	var writes []blockWrite
	for i := 0; i < len(gone); {
		block, lo, exists := bc.find(gone[i])
		kept := make([]byte, 0, len(block))
		for ; len(block) >= entrySize; block = block[entrySize:] {
			h := entryHash(block)
			for i < len(gone) && gone[i] < h {
				i++ // not stored: nothing to delete
			}
			if i < len(gone) && gone[i] == h {
				i++
				continue
			}
			kept = append(kept, block[:entrySize]...)
		}
		for i < len(gone) && bc.holds(gone[i]) {
			i++ // past the block's last token, not stored
		}
		writes = append(writes, splitBlock(lo, exists, kept)...)
	}
	l.tokenCount = target
	return writeBlocks(l.tokens, writes)
}

// pruneLists drops the token lists of the least recently learnt messages
// until at most target token entries remain listed. The records themselves
// stay, so learning such a message again still counts once.
func (l *learner) pruneLists(target uint64) error {
	type cand struct {
		k   []byte
		day uint16
		n   uint64
	}
	var cands []cand
	var listed uint64
	c := l.msgs.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n := uint64(len(v)-3) / 4; len(v) >= 3 && n > 0 {
			cands = append(cands, cand{append([]byte(nil), k...), binary.BigEndian.Uint16(v[1:3]), n})
			listed += n
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return int(a.day) - int(b.day) })
	for _, cd := range cands {
		if listed <= target {
			break
		}
		v := l.msgs.Get(cd.k)
		m, ok := decodeMessage(v)
		if !ok {
			continue
		}
		m.prefixes = nil
		if err := l.msgs.Put(cd.k, encodeMessage(m)); err != nil {
			return err
		}
		listed -= cd.n
	}
	l.listed = listed
	return nil
}
