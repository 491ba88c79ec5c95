package boltstore

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"mailguard/classifier"
)

// learner applies one batch inside one write transaction. Token changes
// are collected per kind, summed per token and written in key order, so a
// batch of many messages touches each page of the token table once.
type learner struct {
	tx                 *bolt.Tx
	tokens, msgs, meta *bolt.Bucket
	day                uint16
	// added and removed hold one hash per message a token was counted
	// up or down in, by class (0 ham, 1 spam).
	added, removed     [2][]uint64
	totals             classifier.Totals
	tokenCount, listed uint64
}

func (l *learner) load() {
	l.totals = readTotals(l.tx)
	l.tokenCount = getUint64(l.meta.Get(keyTokenCount))
	l.listed = getUint64(l.meta.Get(keyListed))
}

// reserve sizes the change lists for docs, sparing their regrowth.
func (l *learner) reserve(docs []classifier.Doc) {
	var n [2]int
	for i := range docs {
		n[class(docs[i].Spam)] += len(docs[i].Tokens)
	}
	for c := range n {
		l.added[c] = make([]uint64, 0, n[c])
	}
}

func class(spam bool) int {
	if spam {
		return 1
	}
	return 0
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

// doc records one message, its tokens' sorted distinct hashes given; it
// reports whether the counts change.
func (l *learner) doc(d *classifier.Doc, hashes []uint64) (bool, error) {
	dk := digestKey(d.Digest)
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
		l.removed[class(old.spam)] = append(l.removed[class(old.spam)], gone...)
		l.count(old.spam, -1)
		l.listed -= uint64(len(old.prefixes))
	}
	l.added[class(d.Spam)] = append(l.added[class(d.Spam)], hashes...)
	l.count(d.Spam, 1)
	l.listed += uint64(len(hashes))
	return true, l.msgs.Put(dk, encodeMessage(messageValue{spam: d.Spam, day: l.day, prefixes: prefixes(hashes)}))
}

func (l *learner) count(spam bool, n int64) {
	if spam {
		l.totals.Spam = addClamped(l.totals.Spam, n)
	} else {
		l.totals.Ham = addClamped(l.totals.Ham, n)
	}
}

// resolve turns a stored message's hash prefixes back into token hashes:
// from the message's tokens as given now (the same unless the tokenizer
// changed), else from the token table when one token there has the prefix.
// A prefix matching none, or several, is left alone: its token was pruned,
// or is one of the rare pairs sharing 32 bits.
func (l *learner) resolve(stored []uint32, hashes []uint64) []uint64 {
	out := make([]uint64, 0, len(stored))
	bc := newBlockCursor(l.tokens)
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
		next := bc.from(uint64(p)<<32, 2)
		if len(next) == 0 || uint32(next[0]>>32) != p || len(next) == 2 && uint32(next[1]>>32) == p {
			continue
		}
		out = append(out, next[0])
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

// sum is the net change of one token.
type sum struct {
	h         uint64
	spam, ham int64
}

// sums merges the four sorted change lists into net changes per token, in
// key order, leaving out tokens whose changes cancel.
func (l *learner) sums() []sum {
	lists := [4][]uint64{l.added[0], l.added[1], l.removed[0], l.removed[1]}
	n := 0
	for i := range lists {
		sortHashes(lists[i])
		n += len(lists[i])
	}
	out := make([]sum, 0, n/2)
	var pos [4]int
	for {
		h, any := uint64(0), false
		for i := range lists {
			if pos[i] < len(lists[i]) && (!any || lists[i][pos[i]] < h) {
				h, any = lists[i][pos[i]], true
			}
		}
		if !any {
			break
		}
		var d [4]int64
		for i := range lists {
			for pos[i] < len(lists[i]) && lists[i][pos[i]] == h {
				d[i]++
				pos[i]++
			}
		}
		s := sum{h: h, ham: d[0] - d[2], spam: d[1] - d[3]}
		if s.spam != 0 || s.ham != 0 {
			out = append(out, s)
		}
	}
	l.added, l.removed = [2][]uint64{}, [2][]uint64{}
	return out
}

// apply writes the summed changes, block by block in key order. A token
// whose counts reach zero is deleted; one counted down but never stored
// (pruned) stays absent. All blocks are read before any is written: a write
// would invalidate the cursor and the values it gave.
func (l *learner) apply() error {
	sums := l.sums()
	bc := newBlockCursor(l.tokens)
	var writes []blockWrite
	for i := 0; i < len(sums); {
		block, lo, exists := bc.find(sums[i].h)
		j := i + 1
		for j < len(sums) && bc.holds(sums[j].h) {
			j++
		}
		writes = append(writes, splitBlock(lo, exists, l.merge(block, sums[i:j]))...)
		i = j
	}
	return writeBlocks(l.tokens, writes)
}

// merge returns block's entries with sums applied, in a new slice.
func (l *learner) merge(block []byte, sums []sum) []byte {
	out := make([]byte, 0, len(block)+entrySize*len(sums))
	for len(block) > 0 || len(sums) > 0 {
		var h uint64
		var t tokenValue
		var found bool
		switch {
		case len(sums) == 0 || len(block) > 0 && entryHash(block) < sums[0].h:
			out = append(out, block[:entrySize]...)
			block = block[entrySize:]
			continue
		case len(block) > 0 && entryHash(block) == sums[0].h:
			h, t = decodeEntry(block)
			found = true
			block = block[entrySize:]
		default:
			h = sums[0].h
		}
		d := sums[0]
		sums = sums[1:]
		spam := uint32(addClamped(uint64(t.spam), d.spam))
		ham := uint32(addClamped(uint64(t.ham), d.ham))
		switch {
		case spam == 0 && ham == 0:
			if found {
				l.tokenCount--
			}
			continue
		case !found:
			l.tokenCount++
		}
		if spam > t.spam || ham > t.ham || !found {
			t.day = l.day
		}
		t.spam, t.ham = spam, ham
		out = appendEntry(out, h, t)
	}
	return out
}

func addClamped(v uint64, n int64) uint64 {
	if n < 0 && uint64(-n) > v {
		return 0
	}
	return uint64(int64(v) + n)
}

// hashDocs returns each doc's distinctHashes, computed in parallel.
func hashDocs(docs []classifier.Doc) [][]uint64 {
	out := make([][]uint64, len(docs))
	workers := min(runtime.GOMAXPROCS(0), (len(docs)+63)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += workers {
				out[i] = distinctHashes(docs[i].Tokens)
			}
		}()
	}
	wg.Wait()
	return out
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

// sortHashes sorts uniformly spread hashes: one counting pass scatters
// them by their top bits into buckets small enough to sort in cache,
// several times faster than sorting the whole at once.
func sortHashes(a []uint64) {
	if len(a) < 4096 {
		slices.Sort(a)
		return
	}
	const bits = 11
	var count [1<<bits + 1]int
	for _, h := range a {
		count[h>>(64-bits)+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	tmp := make([]uint64, len(a))
	next := count
	for _, h := range a {
		b := h >> (64 - bits)
		tmp[next[b]] = h
		next[b]++
	}
	for b := 0; b < 1<<bits; b++ {
		slices.Sort(tmp[count[b]:count[b+1]])
	}
	copy(a, tmp)
}
