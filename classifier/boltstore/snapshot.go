package boltstore

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"mailguard/classifier"
)

// Snapshot is the whole token table read into memory at one moment: a
// read-only classifier.Store for scoring many messages in one run, where a
// map lookup (tens of nanoseconds) beats a B+tree descent (about a
// microsecond) once the messages' lookups outnumber the table's tokens.
type Snapshot struct {
	table  table
	totals classifier.Totals
	txid   uint64 // the bbolt transaction it was read in
}

// table is an open-addressing hash table keyed by the token hashes
// themselves (already uniform, so no hashing again): a lookup is usually
// one cache miss, where a Go map of half a million entries costs two or
// three. A hash's home slot is taken from its top bits, so the store's
// keys, which come in order, fill the table from start to end instead of
// at random.
type table struct {
	slots []slot
	mask  uint64
	shift uint              // 64 - log2(len(slots))
	zero  classifier.Counts // the counts of the hash 0
}

// slot keeps a key beside its counts: one cache line answers a lookup.
type slot struct {
	h uint64 // 0 marks an empty slot; the hash 0 is kept aside
	c classifier.Counts
}

func newTable(n int) table {
	size, bits := 16, uint(4)
	for size < 2*n {
		size *= 2
		bits++
	}
	return table{slots: make([]slot, size), mask: uint64(size - 1), shift: 64 - bits}
}

// put stores counts under h; the table never fills (twice the entries).
func (t *table) put(h uint64, c classifier.Counts) {
	if h == 0 {
		t.zero = c
		return
	}
	for i := h >> t.shift; ; i = (i + 1) & t.mask {
		if s := &t.slots[i]; s.h == 0 || s.h == h {
			s.h, s.c = h, c
			return
		}
	}
}

func (t *table) get(h uint64) classifier.Counts {
	if h == 0 {
		return t.zero
	}
	for i := h >> t.shift; ; i = (i + 1) & t.mask {
		switch s := &t.slots[i]; s.h {
		case h:
			return s.c
		case 0:
			return classifier.Counts{}
		}
	}
}

var _ classifier.Store = (*Snapshot)(nil)

var errSnapshot = errors.New("a token store snapshot is read-only")

// Snapshot reads the token table in one read transaction.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := &Snapshot{}
	err := s.db.View(func(tx *bolt.Tx) error {
		snap.totals = readTotals(tx)
		snap.txid = uint64(tx.ID())
		b := tx.Bucket(bucketTokens)
		if b == nil {
			snap.table = newTable(0)
			return nil
		}
		// Count the tokens from the blocks themselves rather than trust the
		// meta count: a table sized too small would never stop probing.
		n := 0
		b.ForEach(func(k, v []byte) error {
			n += len(v) / entrySize
			return nil
		})
		snap.table = newTable(n)
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v)%entrySize != 0 {
				return fmt.Errorf("token block %x: malformed", k)
			}
			for ; len(v) > 0; v = v[entrySize:] {
				h, t := decodeEntry(v)
				snap.table.put(h, classifier.Counts{Spam: t.spam, Ham: t.ham})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("token store %s: snapshot: %w", s.path, err)
	}
	return snap, nil
}

// Counts implements classifier.Store.
func (s *Snapshot) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	if err := ctx.Err(); err != nil {
		return nil, classifier.Totals{}, err
	}
	res := make([]classifier.Counts, len(tokens))
	out := res
	// Hashes first, then the lookups, a batch at a time: a lookup is
	// mostly a wait for memory, and lookups that do not wait on a hash
	// being computed go to memory several at once.
	var hs [64]uint64
	for len(tokens) > 0 {
		n := min(len(tokens), len(hs))
		for i, t := range tokens[:n] {
			hs[i] = hashToken(t)
		}
		for i, h := range hs[:n] {
			out[i] = s.table.get(h)
		}
		tokens, out = tokens[n:], out[n:]
	}
	return res, s.totals, nil
}

// Totals implements classifier.Store.
func (s *Snapshot) Totals(ctx context.Context) (classifier.Totals, error) {
	return s.totals, ctx.Err()
}

// Learn implements classifier.Store: a snapshot refuses.
func (s *Snapshot) Learn(ctx context.Context, docs ...classifier.Doc) (int, error) {
	return 0, errSnapshot
}

// Close implements classifier.Store.
func (s *Snapshot) Close() error { return nil }
