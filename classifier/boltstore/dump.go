package boltstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"mailguard/classifier"
)

var (
	_ classifier.Dumper = (*Store)(nil)
	_ classifier.Loader = (*Store)(nil)
)

// Dump implements classifier.Dumper, from one read transaction. A
// message's 32-bit token prefixes are resolved against the token table;
// a prefix matching no token, or several, is left out.
func (s *Store) Dump(ctx context.Context) (*classifier.Dump, error) {
	d := &classifier.Dump{}
	err := s.db.View(func(tx *bolt.Tx) error {
		d.Totals = readTotals(tx)
		if b := tx.Bucket(bucketTokens); b != nil {
			err := b.ForEach(func(_, v []byte) error {
				for ; len(v) >= entrySize; v = v[entrySize:] {
					h, t := decodeEntry(v)
					d.Tokens = append(d.Tokens, classifier.TokenRecord{Hash: h, Counts: classifier.Counts{Spam: t.spam, Ham: t.ham}, Day: t.day})
				}
				return ctx.Err()
			})
			if err != nil {
				return err
			}
		}
		slices.SortFunc(d.Tokens, func(a, b classifier.TokenRecord) int {
			switch {
			case a.Hash < b.Hash:
				return -1
			case a.Hash > b.Hash:
				return 1
			}
			return 0
		})
		b := tx.Bucket(bucketMessages)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			m, ok := decodeMessage(v)
			if !ok || len(k) != 16 {
				return nil
			}
			r := classifier.MessageRecord{Key: [16]byte(k), Spam: m.spam, Day: m.day}
			for _, p := range m.prefixes {
				i := sort.Search(len(d.Tokens), func(i int) bool { return uint32(d.Tokens[i].Hash>>32) >= p })
				if i < len(d.Tokens) && uint32(d.Tokens[i].Hash>>32) == p &&
					(i+1 == len(d.Tokens) || uint32(d.Tokens[i+1].Hash>>32) != p) {
					r.Hashes = append(r.Hashes, d.Tokens[i].Hash)
				}
			}
			d.Messages = append(d.Messages, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("token store %s: dump: %w", s.path, err)
	}
	return d, nil
}

// ErrNotEmpty is returned by Load into a store that holds something.
var ErrNotEmpty = errors.New("the destination token store is not empty")

// Load implements classifier.Loader in one write transaction.
func (s *Store) Load(ctx context.Context, d *classifier.Dump, progress func(done, total int)) error {
	total := len(d.Tokens) + len(d.Messages)
	err := s.db.Update(func(tx *bolt.Tx) error {
		tokens, msgs, meta := tx.Bucket(bucketTokens), tx.Bucket(bucketMessages), tx.Bucket(bucketMeta)
		if readTotals(tx) != (classifier.Totals{}) || getUint64(meta.Get(keyTokenCount)) != 0 {
			return ErrNotEmpty
		}
		if k, _ := msgs.Cursor().First(); k != nil {
			return ErrNotEmpty
		}
		recs := slices.Clone(d.Tokens)
		slices.SortFunc(recs, func(a, b classifier.TokenRecord) int {
			switch {
			case a.Hash < b.Hash:
				return -1
			case a.Hash > b.Hash:
				return 1
			}
			return 0
		})
		entries := make([]byte, 0, entrySize*len(recs))
		var n uint64
		for i, r := range recs {
			if i > 0 && recs[i-1].Hash == r.Hash {
				continue
			}
			entries = appendEntry(entries, r.Hash, tokenValue{spam: r.Counts.Spam, ham: r.Counts.Ham, day: r.Day})
			n++
		}
		if err := writeBlocks(tokens, splitBlock(0, false, entries)); err != nil {
			return err
		}
		if progress != nil {
			progress(len(d.Tokens), total)
		}
		var listed uint64
		for i, m := range d.Messages {
			hs := slices.Clone(m.Hashes)
			slices.Sort(hs)
			p := prefixes(hs)
			listed += uint64(len(p))
			if err := msgs.Put(append([]byte(nil), m.Key[:]...), encodeMessage(messageValue{spam: m.Spam, day: m.Day, prefixes: p})); err != nil {
				return err
			}
			if progress != nil && i%1000 == 999 {
				progress(len(d.Tokens)+i+1, total)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		l := &learner{tx: tx, meta: meta, totals: d.Totals, tokenCount: n, listed: listed}
		return l.save()
	})
	if err != nil {
		return fmt.Errorf("token store %s: load: %w", s.path, err)
	}
	if progress != nil {
		progress(total, total)
	}
	return nil
}
