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
	changes            []change
	totals             classifier.Totals
	tokenCount, listed uint64
}

// change is one message's effect on one token; apply sums them per token.
type change struct {
	h         uint64
	spam, ham int32
}

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
		gone := hashes
		if len(old.prefixes) > 0 {
			gone = l.resolve(old.prefixes, hashes)
		}
		// else the record's list was pruned: the same message has the
		// same tokens.
		l.add(gone, old.spam, -1)
		l.listed -= uint64(len(old.prefixes))
	}
	l.add(hashes, d.Spam, 1)
	l.listed += uint64(len(hashes))
	return true, l.msgs.Put(dk, encodeMessage(messageValue{spam: d.Spam, day: l.day, prefixes: prefixes(hashes)}))
}

// resolve turns a stored message's hash prefixes back into token hashes:
// from the message's tokens as given now (the same unless the tokenizer
// changed), else from the token table when one token there has the prefix.
// A prefix matching none, or several, is left alone: its token was pruned,
// or is one of the rare pairs sharing 32 bits.
func (l *learner) resolve(stored []uint32, hashes []uint64) []uint64 {
	out := make([]uint64, 0, len(stored))
	c := l.tokens.Cursor()
	i := 0
	for _, p := range stored {
		for i < len(hashes) && uint32(hashes[i]>>32) < p {
			i++
		}
		if i < len(hashes) && uint32(hashes[i]>>32) == p {
			for j := i; j < len(hashes) && uint32(hashes[j]>>32) == p; j++ {
				out = append(out, hashes[j])
			}
			continue
		}
		k, _ := c.Seek(key(uint64(p) << 32))
		if k == nil || uint32(getUint64(k)>>32) != p {
			continue
		}
		h := getUint64(k)
		if k2, _ := c.Next(); k2 != nil && uint32(getUint64(k2)>>32) == p {
			continue
		}
		out = append(out, h)
	}
	return out
}

// prefixes returns the top 32 bits of sorted hashes, repeats removed.
func prefixes(hashes []uint64) []uint32 {
	out := make([]uint32, 0, len(hashes))
	for _, h := range hashes {
		p := uint32(h >> 32)
		if n := len(out); n == 0 || out[n-1] != p {
			out = append(out, p)
		}
	}
	return out
}

func (l *learner) add(hashes []uint64, spam bool, n int64) {
	c := change{}
	if spam {
		c.spam = int32(n)
	} else {
		c.ham = int32(n)
	}
	for _, h := range hashes {
		c.h = h
		l.changes = append(l.changes, c)
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
	// Sum the changes per token, in key order.
	slices.SortFunc(l.changes, func(a, b change) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	sums := l.changes[:0]
	for _, c := range l.changes {
		if n := len(sums); n > 0 && sums[n-1].h == c.h {
			sums[n-1].spam += c.spam
			sums[n-1].ham += c.ham
			continue
		}
		sums = append(sums, c)
	}
	keys := make([]uint64, 0, len(sums))
	for _, c := range sums {
		if c.spam != 0 || c.ham != 0 {
			keys = append(keys, c.h)
			sums[len(keys)-1] = c
		}
	}
	sums = sums[:len(keys)]
	l.changes = nil
	olds, found := l.read(keys)
	// bbolt keeps the key and value slices until the commit: carve them
	// out of two arenas rather than allocating each.
	keyBuf := make([]byte, 8*len(keys))
	valBuf := make([]byte, 0, 8*len(keys))
	for i, h := range keys {
		k := keyBuf[8*i : 8*i+8 : 8*i+8]
		putKey(k, h)
		t := olds[i]
		spam := uint32(addClamped(uint64(t.spam), int64(sums[i].spam)))
		ham := uint32(addClamped(uint64(t.ham), int64(sums[i].ham)))
		switch {
		case spam == 0 && ham == 0:
			if found[i] {
				if err := l.tokens.Delete(k); err != nil {
					return err
				}
				l.tokenCount--
			}
			continue
		case !found[i]:
			l.tokenCount++
		}
		if spam > t.spam || ham > t.ham || !found[i] {
			t.day = l.day
		}
		t.spam, t.ham = spam, ham
		start := len(valBuf)
		valBuf = appendToken(valBuf, t)
		if err := l.tokens.Put(k, valBuf[start:len(valBuf):len(valBuf)]); err != nil {
			return err
		}
	}
	return nil
}

// read looks up sorted keys with one cursor before anything is written
// (a write would invalidate it): a short walk forward to the next key is
// much cheaper than a descent from the root, and a batch's keys are dense
// in the table.
func (l *learner) read(keys []uint64) ([]tokenValue, []bool) {
	olds := make([]tokenValue, len(keys))
	found := make([]bool, len(keys))
	c := l.tokens.Cursor()
	var ck, cv []byte
	for i, h := range keys {
		steps := 0
		for ck != nil && getUint64(ck) < h && steps < 8 {
			ck, cv = c.Next()
			steps++
		}
		if i == 0 || ck != nil && getUint64(ck) < h {
			ck, cv = c.Seek(key(h))
		}
		if ck != nil && getUint64(ck) == h {
			olds[i], found[i] = decodeToken(cv), true
		}
	}
	return olds, found
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
