// Package boltstore is the embedded token store: one bbolt file under
// data_dir, pure Go, no server.
//
// Tokens are kept as 64-bit FNV-1a hashes, 18 bytes a token with its
// counts whatever the token's length, in blocks of neighbouring hashes;
// two tokens sharing a hash (about one pair in 10^7 at two million tokens)
// merely share counts. Each learnt message is kept under its digest with
// its class and 32-bit prefixes of its token hashes, so learning it again
// changes nothing and relearning it as the other class moves the counts it
// added, even after the tokenizer changed. Every token carries the day it
// was last learnt; when the table outgrows its cap, hapaxes and the least
// recently seen tokens go first.
package boltstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"mailguard/classifier"
)

// FileName is the store's file in data_dir.
const FileName = "tokens.db"

// DefaultMaxTokens is the token cap when Config.MaxTokens is zero: about
// 36 MB of tokens on disk, beside the learnt messages' token lists.
const DefaultMaxTokens = 2_000_000

// Config opens a store.
type Config struct {
	// Path is the database file; it is created (with its directory) unless
	// ReadOnly.
	Path string
	// MaxTokens caps the token table; 0 means DefaultMaxTokens. Message
	// records keep their token lists for at most 4*MaxTokens token
	// entries, the oldest lose theirs first (a move then subtracts the
	// tokens of the message as given, which are the same unless the
	// tokenizer changed in between).
	MaxTokens int
	// ReadOnly opens an existing file for reading only, under a shared
	// lock: several readers may run at once, but not beside a writer.
	ReadOnly bool
	// LockTimeout bounds the wait for another process's lock on the file;
	// 0 means 5 seconds.
	LockTimeout time.Duration
	// Now gives the learning day; nil means time.Now.
	Now func() time.Time
}

// Store is a classifier.Store in a bbolt file.
type Store struct {
	db        *bolt.DB
	path      string
	maxTokens int
	now       func() time.Time
}

var _ classifier.Store = (*Store)(nil)

var (
	bucketTokens   = []byte("token_blocks")
	bucketMessages = []byte("messages")
	bucketMeta     = []byte("meta")
	keyTotals      = []byte("totals")
	keyTokenCount  = []byte("token_count")
	keyListed      = []byte("listed")
	keyVersion     = []byte("version")
)

// formatVersion 2 keeps tokens in blocks (version 1 kept a key a token).
const formatVersion = 2

// ErrNotExist is returned (wrapped) by a read-only Open of a missing file.
var ErrNotExist = fs.ErrNotExist

// Open opens or creates the store at cfg.Path.
func Open(cfg Config) (*Store, error) {
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadOnly {
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("token store %s: %w", cfg.Path, err)
		}
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout:        cfg.LockTimeout,
		ReadOnly:       cfg.ReadOnly,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Address space, not disk: growing the map means copying every
		// node a write transaction holds, so map big from the start.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("token store %s: locked by another process (mailguard train, or another writer): %w", cfg.Path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("token store %s: %w", cfg.Path, err)
	}
	// The default 16 MB growth step would dominate a small database.
	db.AllocSize = 1 << 20
	s := &Store{db: db, path: cfg.Path, maxTokens: cfg.MaxTokens, now: cfg.Now}
	if !cfg.ReadOnly {
		if err := db.Update(s.init); err != nil {
			db.Close()
			return nil, fmt.Errorf("token store %s: %w", cfg.Path, err)
		}
	} else if err := db.View(checkVersion); err != nil {
		db.Close()
		return nil, fmt.Errorf("token store %s: %w", cfg.Path, err)
	}
	return s, nil
}

func (s *Store) init(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketTokens, bucketMessages, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyVersion) == nil {
		return meta.Put(keyVersion, putUint64(formatVersion))
	}
	return checkVersion(tx)
}

func checkVersion(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil // created but never written: empty
	}
	if v := getUint64(meta.Get(keyVersion)); v != formatVersion {
		return fmt.Errorf("format version %d, this program reads %d: move the file away and train again", v, formatVersion)
	}
	return nil
}

// Close implements classifier.Store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("token store %s: %w", s.path, err)
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Learn implements classifier.Store: all docs in one transaction.
func (s *Store) Learn(ctx context.Context, docs ...classifier.Doc) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Hash outside the write transaction, on every core.
	hashes := hashDocs(docs)
	changed := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed = 0
		l := learner{
			tx:     tx,
			tokens: tx.Bucket(bucketTokens),
			msgs:   tx.Bucket(bucketMessages),
			meta:   tx.Bucket(bucketMeta),
			day:    dayOf(s.now()),
		}
		l.load()
		l.reserve(docs)
		for i := range docs {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ok, err := l.doc(&docs[i], hashes[i])
			if err != nil {
				return err
			}
			if ok {
				changed++
			}
		}
		if err := l.apply(); err != nil {
			return err
		}
		if l.tokenCount > uint64(s.maxTokens) {
			if err := l.pruneTokens(uint64(s.maxTokens - s.maxTokens/10)); err != nil {
				return err
			}
		}
		if maxListed := 4 * uint64(s.maxTokens); l.listed > maxListed {
			if err := l.pruneLists(maxListed - maxListed/10); err != nil {
				return err
			}
		}
		return l.save()
	})
	if err != nil {
		return 0, fmt.Errorf("token store %s: learn: %w", s.path, err)
	}
	return changed, nil
}

// Counts implements classifier.Store: one read transaction, the keys looked
// up in sorted order so neighbouring lookups share pages.
func (s *Store) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	if err := ctx.Err(); err != nil {
		return nil, classifier.Totals{}, err
	}
	type lookup struct {
		h uint64
		i int
	}
	ls := make([]lookup, len(tokens))
	for i, t := range tokens {
		ls[i] = lookup{hashToken(t), i}
	}
	slices.SortFunc(ls, func(a, b lookup) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	out := make([]classifier.Counts, len(tokens))
	var tot classifier.Totals
	err := s.db.View(func(tx *bolt.Tx) error {
		tot = readTotals(tx)
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		bc := newBlockCursor(b)
		for _, l := range ls {
			if tv, ok := bc.get(l.h); ok {
				out[l.i] = classifier.Counts{Spam: tv.spam, Ham: tv.ham}
			}
		}
		return nil
	})
	if err != nil {
		return nil, classifier.Totals{}, fmt.Errorf("token store %s: %w", s.path, err)
	}
	return out, tot, nil
}

// Totals implements classifier.Store.
func (s *Store) Totals(ctx context.Context) (classifier.Totals, error) {
	if err := ctx.Err(); err != nil {
		return classifier.Totals{}, err
	}
	var tot classifier.Totals
	err := s.db.View(func(tx *bolt.Tx) error {
		tot = readTotals(tx)
		return nil
	})
	if err != nil {
		return tot, fmt.Errorf("token store %s: %w", s.path, err)
	}
	return tot, nil
}

// Tokens returns how many tokens the table holds.
func (s *Store) Tokens() (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			n = getUint64(meta.Get(keyTokenCount))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("token store %s: %w", s.path, err)
	}
	return int(n), nil
}

func readTotals(tx *bolt.Tx) classifier.Totals {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return classifier.Totals{}
	}
	v := meta.Get(keyTotals)
	if len(v) != 16 {
		return classifier.Totals{}
	}
	return classifier.Totals{Spam: getUint64(v[:8]), Ham: getUint64(v[8:])}
}

// digestKey is the message table's key: 128 bits of the digest's SHA-256,
// whatever the digest's own form.
func digestKey(d string) []byte {
	sum := sha256.Sum256([]byte(d))
	return sum[:16]
}
