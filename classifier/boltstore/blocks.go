package boltstore

import (
	"encoding/binary"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The token table is kept in blocks: runs of tokens sorted by hash, each
// block stored under the lowest hash it may hold, so a hash lives in the
// block with the greatest key not above it. A batch of learnt messages
// touches most of the table; rewriting a few thousand blocks costs a
// fraction of putting hundreds of thousands of keys one by one, and a
// block is still small enough that learning a single message rewrites
// little.
const entrySize = 18 // hash uint64, spam uint32, ham uint32, day uint16

// maxBlockEntries is the size at which a block is split in halves; a
// variable so that tests can make splits happen with few tokens.
var maxBlockEntries = 128

func entryHash(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func decodeEntry(b []byte) (uint64, tokenValue) {
	return binary.BigEndian.Uint64(b), tokenValue{
		spam: binary.BigEndian.Uint32(b[8:]),
		ham:  binary.BigEndian.Uint32(b[12:]),
		day:  binary.BigEndian.Uint16(b[16:]),
	}
}

func appendEntry(b []byte, h uint64, t tokenValue) []byte {
	b = binary.BigEndian.AppendUint64(b, h)
	b = binary.BigEndian.AppendUint32(b, t.spam)
	b = binary.BigEndian.AppendUint32(b, t.ham)
	return binary.BigEndian.AppendUint16(b, t.day)
}

// searchBlock returns the index of the first entry of block whose hash is
// at least h (the number of entries if none is).
func searchBlock(block []byte, h uint64) int {
	return sort.Search(len(block)/entrySize, func(i int) bool { return entryHash(block[i*entrySize:]) >= h })
}

// blockCursor finds the block holding a hash, reusing the last block found
// while the hashes asked for stay in its range (asking in order helps).
type blockCursor struct {
	c                   *bolt.Cursor
	found, exists, last bool
	lo, hi              uint64 // the block's range: [lo, hi), or from lo on when last
	block               []byte
}

func newBlockCursor(b *bolt.Bucket) *blockCursor { return &blockCursor{c: b.Cursor()} }

// holds reports whether h is in the range of the block last found.
func (bc *blockCursor) holds(h uint64) bool {
	return bc.found && h >= bc.lo && (bc.last || h < bc.hi)
}

// find returns the block whose range holds h, its key, and whether it
// exists: below the lowest key lies a block [0, lowest key) not yet
// written.
func (bc *blockCursor) find(h uint64) (block []byte, lo uint64, exists bool) {
	if bc.holds(h) {
		return bc.block, bc.lo, bc.exists
	}
	k, v := bc.c.Seek(key(h))
	switch {
	case k == nil:
		k, v = bc.c.Last()
	case getUint64(k) > h:
		k, v = bc.c.Prev()
	}
	bc.found = true
	var next []byte
	if k == nil {
		bc.lo, bc.block, bc.exists = 0, nil, false
		next, _ = bc.c.First()
	} else {
		// A damaged block gives its whole entries, never a short one.
		bc.lo, bc.block, bc.exists = getUint64(k), v[:len(v)-len(v)%entrySize], true
		next, _ = bc.c.Next()
	}
	bc.last = next == nil
	if !bc.last {
		bc.hi = getUint64(next)
	}
	return bc.block, bc.lo, bc.exists
}

// get returns the token h's value and whether the table holds it.
func (bc *blockCursor) get(h uint64) (tokenValue, bool) {
	block, _, _ := bc.find(h)
	i := searchBlock(block, h)
	if i*entrySize >= len(block) {
		return tokenValue{}, false
	}
	eh, t := decodeEntry(block[i*entrySize:])
	return t, eh == h
}

// blockWrite is one change to the block bucket: a block to put under k,
// or, with del, the block under k to delete.
type blockWrite struct {
	k   uint64
	v   []byte
	del bool
}

// splitBlock returns the writes that store entries as the block lo, split
// in halves of maxBlockEntries/2 when it has outgrown maxBlockEntries; an
// existing block left empty is deleted.
func splitBlock(lo uint64, existed bool, entries []byte) []blockWrite {
	n := len(entries) / entrySize
	switch {
	case n == 0 && existed:
		return []blockWrite{{k: lo, del: true}}
	case n == 0:
		return nil
	case n <= maxBlockEntries:
		return []blockWrite{{k: lo, v: entries}}
	}
	half := max(maxBlockEntries/2, 1)
	var out []blockWrite
	for i := 0; i < n; i += half {
		j := min(i+half, n)
		if n-j <= half/2 {
			j = n // no runt at the end
		}
		k := lo
		if i > 0 {
			k = entryHash(entries[i*entrySize:])
		}
		out = append(out, blockWrite{k: k, v: entries[i*entrySize : j*entrySize : j*entrySize]})
		if j == n {
			break
		}
	}
	return out
}

// writeBlocks carries out writes; keys and values must stay untouched
// until the transaction commits, so each write gets its own key.
func writeBlocks(b *bolt.Bucket, writes []blockWrite) error {
	keys := make([]byte, 8*len(writes))
	for i, w := range writes {
		k := keys[8*i : 8*i+8 : 8*i+8]
		putKey(k, w.k)
		var err error
		if w.del {
			err = b.Delete(k)
		} else {
			err = b.Put(k, w.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// from returns up to n hashes of the table from x on, in order.
func (bc *blockCursor) from(x uint64, n int) []uint64 {
	var out []uint64
	for {
		block, _, _ := bc.find(x)
		for i := searchBlock(block, x); i*entrySize < len(block) && len(out) < n; i++ {
			out = append(out, entryHash(block[i*entrySize:]))
		}
		if len(out) == n || bc.last {
			return out
		}
		x = bc.hi
	}
}
