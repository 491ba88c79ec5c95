package boltstore

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"mailguard/classifier"
)

// learner applies one batch inside one write transaction. Token changes
// are summed per token first and written in key order, so a batch of
// hundreds of messages touches each page of the token table once.
type learner struct {
	tx                 *bolt.Tx
	tokens, msgs, meta *bolt.Bucket
	day                uint16
	delta              map[uint64]*delta
	totals             classifier.Totals
	tokenCount, listed uint64
}

type delta struct{ spam, ham int64 }

func (l *learner) load() {
	l.totals = readTotals(l.tx)
	l.tokenCount = getUint64(l.meta.Get(keyTokenCount))
	l.listed = getUint64(l.meta.Get(keyListed))
}

func (l *learner) save() error {
	tot := make([]byte, 0, 16)
	tot = append(tot, putUint64(l.totals.Spam)...)
	tot = append(tot, putUint64(l.totals.Ham)...)
	if err := l.meta.Put(keyTotals, tot); err != nil {
		return err
	}
	if err := l.meta.Put(keyTokenCount, putUint64(l.tokenCount)); err != nil {
		return err
	}
	return l.meta.Put(keyListed, putUint64(l.listed))
}

// doc records one message; it reports whether the counts change.
func (l *learner) doc(d *classifier.Doc) (bool, error) {
	dk := digestKey(d.Digest)
	hashes := distinctHashes(d.Tokens)
	if v := l.msgs.Get(dk); v != nil {
		old, ok := decodeMessage(v)
		if !ok {
			return false, fmt.Errorf("message record %x: malformed", dk)
		}
		if old.spam == d.Spam {
			return false, nil
		}
		gone := old.hashes
		if len(gone) == 0 {
			// The record's list was pruned: the same message has the
			// same tokens.
			gone = hashes
		}
		l.add(gone, old.spam, -1)
		l.listed -= uint64(len(old.hashes))
	}
	l.add(hashes, d.Spam, 1)
	l.listed += uint64(len(hashes))
	return true, l.msgs.Put(dk, encodeMessage(messageValue{spam: d.Spam, day: l.day, hashes: hashes}))
}

func (l *learner) add(hashes []uint64, spam bool, n int64) {
	for _, h := range hashes {
		d := l.delta[h]
		if d == nil {
			d = &delta{}
			l.delta[h] = d
		}
		if spam {
			d.spam += n
		} else {
			d.ham += n
		}
	}
	if spam {
		l.totals.Spam = addClamped(l.totals.Spam, n)
	} else {
		l.totals.Ham = addClamped(l.totals.Ham, n)
	}
}

// apply writes the summed changes in key order. A token whose counts reach
// zero is deleted; one counted down but never stored (pruned) stays absent.
func (l *learner) apply() error {
	keys := make([]uint64, 0, len(l.delta))
	for h, d := range l.delta {
		if d.spam != 0 || d.ham != 0 {
			keys = append(keys, h)
		}
	}
	slices.Sort(keys)
	for _, h := range keys {
		d := l.delta[h]
		k := key(h)
		v := l.tokens.Get(k)
		var t tokenValue
		if v != nil {
			t = decodeToken(v)
		}
		spam := uint32(addClamped(uint64(t.spam), d.spam))
		ham := uint32(addClamped(uint64(t.ham), d.ham))
		switch {
		case spam == 0 && ham == 0:
			if v != nil {
				if err := l.tokens.Delete(k); err != nil {
					return err
				}
				l.tokenCount--
			}
			continue
		case v == nil:
			l.tokenCount++
		}
		if spam > t.spam || ham > t.ham || v == nil {
			t.day = l.day
		}
		t.spam, t.ham = spam, ham
		if err := l.tokens.Put(k, encodeToken(t)); err != nil {
			return err
		}
	}
	return nil
}

func addClamped(v uint64, n int64) uint64 {
	if n < 0 && uint64(-n) > v {
		return 0
	}
	return uint64(int64(v) + n)
}

// distinctHashes returns the sorted distinct hashes of tokens.
func distinctHashes(tokens []string) []uint64 {
	hs := make([]uint64, len(tokens))
	for i, t := range tokens {
		hs[i] = hashToken(t)
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}
