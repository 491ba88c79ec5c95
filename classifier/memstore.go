package classifier

import (
	"context"
	"sync"
)

// MemStore is a Store in memory. It is the reference for the Store
// contract (learning a digest twice counts once; relearning it as the other
// class moves it) and serves evaluation runs that need no persistence.
type MemStore struct {
	mu     sync.RWMutex
	counts map[string]*Counts
	docs   map[string]memDoc
	tot    Totals
	closed bool
}

type memDoc struct {
	spam   bool
	tokens []string
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{counts: map[string]*Counts{}, docs: map[string]memDoc{}}
}

// Learn implements Store.
func (s *MemStore) Learn(ctx context.Context, docs ...Doc) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	changed := 0
	for _, d := range docs {
		old, seen := s.docs[d.Digest]
		if seen && old.spam == d.Spam {
			continue
		}
		if seen {
			s.add(old.tokens, old.spam, -1)
		}
		toks := distinct(d.Tokens)
		s.add(toks, d.Spam, 1)
		s.docs[d.Digest] = memDoc{spam: d.Spam, tokens: toks}
		changed++
	}
	return changed, nil
}

// add counts tokens of one message of a class up (delta 1) or down (-1).
func (s *MemStore) add(tokens []string, spam bool, delta int) {
	for _, t := range tokens {
		c := s.counts[t]
		if c == nil {
			if delta < 0 {
				continue
			}
			c = &Counts{}
			s.counts[t] = c
		}
		if spam {
			c.Spam = addClamped(c.Spam, delta)
		} else {
			c.Ham = addClamped(c.Ham, delta)
		}
		if c.Spam == 0 && c.Ham == 0 {
			delete(s.counts, t)
		}
	}
	if spam {
		s.tot.Spam = uint64(int64(s.tot.Spam) + int64(delta))
	} else {
		s.tot.Ham = uint64(int64(s.tot.Ham) + int64(delta))
	}
}

func addClamped(v uint32, delta int) uint32 {
	if delta < 0 && v == 0 {
		return 0
	}
	return uint32(int64(v) + int64(delta))
}

// distinct returns tokens without repeats, keeping the first of each.
func distinct(tokens []string) []string {
	seen := make(map[string]struct{}, len(tokens))
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if _, ok := seen[t]; ok {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out
}

// Counts implements Store.
func (s *MemStore) Counts(ctx context.Context, tokens []string) ([]Counts, Totals, error) {
	if err := ctx.Err(); err != nil {
		return nil, Totals{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, Totals{}, errClosed
	}
	out := make([]Counts, len(tokens))
	for i, t := range tokens {
		if c := s.counts[t]; c != nil {
			out[i] = *c
		}
	}
	return out, s.tot, nil
}

// Totals implements Store.
func (s *MemStore) Totals(ctx context.Context) (Totals, error) {
	if err := ctx.Err(); err != nil {
		return Totals{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Totals{}, errClosed
	}
	return s.tot, nil
}

// Tokens returns how many distinct tokens have non-zero counts.
func (s *MemStore) Tokens() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.counts)
}

// Close implements Store; a closed store refuses further use.
func (s *MemStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
