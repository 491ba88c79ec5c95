package boltstore

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"mailguard/classifier"
)

// Shared is the store as the gateway uses it: the file is opened for each
// call and closed after it, so that between messages other processes —
// mailguard train, classify, quarantine learn — can open it too. bbolt
// locks a file for as long as it is open, and a gateway that held it for
// its whole life would make the operator stop it to teach it anything.
//
// Reads open the file read-only under a shared lock, writes under an
// exclusive one; within the process a RWMutex orders them, so a write
// never waits on the process's own readers' file locks. A call that cannot
// get the file within LockTimeout (a long train run holds it) fails; the
// classifier then has no opinion on that message.
type Shared struct {
	cfg Config
	mu  sync.RWMutex
}

var _ classifier.Store = (*Shared)(nil)

// DefaultSharedLockTimeout bounds a gateway's wait for the file when
// Config.LockTimeout is zero: a message waits at most this long while
// another process learns.
const DefaultSharedLockTimeout = 500 * time.Millisecond

// OpenShared returns a Shared store for cfg.Path; nothing is opened yet.
func OpenShared(cfg Config) *Shared {
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultSharedLockTimeout
	}
	return &Shared{cfg: cfg}
}

func (s *Shared) read(f func(st *Store) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cfg := s.cfg
	cfg.ReadOnly = true
	st, err := Open(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// Counts reads the counts of tokens; a store never written reads as empty.
func (s *Shared) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	var (
		counts []classifier.Counts
		totals classifier.Totals
	)
	err := s.read(func(st *Store) error {
		var err error
		counts, totals, err = st.Counts(ctx, tokens)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return make([]classifier.Counts, len(tokens)), classifier.Totals{}, nil
	}
	return counts, totals, err
}

// Totals reads the learnt message counts; a store never written reads as
// empty.
func (s *Shared) Totals(ctx context.Context) (classifier.Totals, error) {
	var totals classifier.Totals
	err := s.read(func(st *Store) error {
		var err error
		totals, err = st.Totals(ctx)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return classifier.Totals{}, nil
	}
	return totals, err
}

// Learn opens the file for writing (creating it), learns docs, closes it.
func (s *Shared) Learn(ctx context.Context, docs ...classifier.Doc) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.cfg
	cfg.ReadOnly = false
	st, err := Open(cfg)
	if err != nil {
		return 0, err
	}
	n, lerr := st.Learn(ctx, docs...)
	if cerr := st.Close(); lerr == nil && cerr != nil {
		return n, cerr
	}
	return n, lerr
}

// Close does nothing: the file is never left open.
func (s *Shared) Close() error { return nil }
