package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"mailguard/classifier"
)

// Shared is the store as the gateway uses it: the token table is read
// into memory (a Snapshot) and scored from there, and the file is opened
// only to build that snapshot and to learn, then closed again, so that
// other processes — mailguard train, classify, quarantine learn — can open
// it while the gateway runs. bbolt locks a file for as long as it is open,
// and a gateway that held it for its whole life would make the operator
// stop it to teach it anything.
//
// Before each read the file's generation is checked without opening the
// database: its inode and the transaction id in bbolt's two meta pages
// (a stat of the path and one pread of the file's first 8 KiB, from a
// plain descriptor kept open for it, which takes no lock). A commit by any process raises
// the transaction id, and the next read rebuilds the snapshot, so what
// another process learnt is seen by the next message.
//
// While another process holds the file, the last snapshot keeps
// answering; only a gateway that has none yet waits for the lock.
//
// Learning in the process goes through one writer at a time (a mutex); a
// write never waits on the process's own readers, which hold no file
// lock. A rebuild or a write that cannot get the file within LockTimeout
// (a long train run holds it) fails; the classifier then has no opinion
// on that message.
type Shared struct {
	cfg Config

	wmu sync.Mutex // one writer

	mu   sync.Mutex // guards the reload, gen and meta
	gen  generation
	snap atomic.Pointer[Snapshot]
	// meta is the file opened plainly (no bbolt, no lock) to read its
	// generation: a stat and a pread a message, where opening and
	// closing it each time cost five system calls and a finalizer
	// (2.3% of the gateway's CPU). It is opened again when the path
	// names another file.
	meta    *os.File
	metaGen generation // exists, dev and ino of meta

	opens atomic.Int64 // database opens, for tests and metrics
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

// Opens returns how many times the database file was opened.
func (s *Shared) Opens() int64 { return s.opens.Load() }

// generation identifies one committed state of the file.
type generation struct {
	exists   bool
	dev, ino uint64
	txid     uint64
}

// currentGeneration returns the generation of the file at the path, from
// meta, opened again when the path names another file (or none). s.mu
// must be held.
func (s *Shared) currentGeneration() (generation, error) {
	path := s.cfg.Path
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.closeMeta()
		return generation{}, nil
	}
	if err != nil {
		return generation{}, fmt.Errorf("token store %s: %w", path, err)
	}
	if g := fileID(fi); s.meta == nil || g != s.metaGen {
		s.closeMeta()
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return generation{}, nil
		}
		if err != nil {
			return generation{}, fmt.Errorf("token store %s: %w", path, err)
		}
		// The ids of the file opened, which may have replaced the one
		// just seen.
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return generation{}, fmt.Errorf("token store %s: %w", path, err)
		}
		s.meta, s.metaGen = f, fileID(fi)
	}
	g, err := readGeneration(s.meta, s.metaGen)
	if err != nil {
		return generation{}, fmt.Errorf("token store %s: %w", path, err)
	}
	return g, nil
}

func (s *Shared) closeMeta() {
	if s.meta != nil {
		s.meta.Close()
		s.meta, s.metaGen = nil, generation{}
	}
}

// fileID is the generation's exists, dev and ino of a file.
func fileID(fi os.FileInfo) generation {
	g := generation{exists: true}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		g.dev, g.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return g
}

// readGeneration adds to g, the file's ids, the highest transaction id
// of its valid meta pages. A meta page torn by a commit in progress fails
// its checksum and is skipped; the other one is then the older state,
// which differs from the one kept, so the snapshot is rebuilt (under the
// file lock, after the commit).
func readGeneration(f *os.File, g generation) (generation, error) {
	var buf [8192]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return generation{}, err
	}
	page := buf[:n]
	txid, pageSize, ok := metaTxid(page)
	if ok {
		g.txid = txid
	}
	if pageSize > 0 && pageSize != 4096 {
		second := make([]byte, metaEnd)
		if _, err := f.ReadAt(second, int64(pageSize)); err == nil {
			if t, _, ok := metaTxid(second); ok && t > g.txid {
				g.txid = t
			}
		}
	} else if len(page) > 4096 {
		if t, _, ok := metaTxid(page[4096:]); ok && t > g.txid {
			g.txid = t
		}
	}
	return g, nil
}

// bbolt's meta page: a 16-byte page header, then magic, version, page
// size and flags (4 bytes each), the root bucket (16), the freelist and
// high-water page ids (8 each), the transaction id and an FNV-1a checksum
// of the meta before it (8 each).
const (
	metaStart    = 16
	metaPageSize = metaStart + 8
	metaTxidOff  = metaStart + 48
	metaSumOff   = metaStart + 56
	metaEnd      = metaStart + 64
	boltMagic    = 0xED0CDAED
)

func metaTxid(p []byte) (txid uint64, pageSize uint32, ok bool) {
	if len(p) < metaEnd || binary.LittleEndian.Uint32(p[metaStart:]) != boltMagic {
		return 0, 0, false
	}
	pageSize = binary.LittleEndian.Uint32(p[metaPageSize:])
	h := fnv.New64a()
	h.Write(p[metaStart:metaSumOff])
	if h.Sum64() != binary.LittleEndian.Uint64(p[metaSumOff:]) {
		return 0, pageSize, false
	}
	return binary.LittleEndian.Uint64(p[metaTxidOff:]), pageSize, true
}

// snapshot returns the in-memory table of the file's current generation,
// rebuilding it when another commit happened since. A store never written
// reads as empty.
func (s *Shared) snapshot(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.currentGeneration()
	if err != nil {
		return nil, err
	}
	if snap := s.snap.Load(); snap != nil && g == s.gen {
		return snap, nil
	}
	if !g.exists {
		snap := &Snapshot{table: newTable(0)}
		s.snap.Store(snap)
		s.gen = g
		return snap, nil
	}
	cfg := s.cfg
	cfg.ReadOnly = true
	stale := s.snap.Load()
	if stale != nil {
		// Another process is committing or holds the file (a train run):
		// keep scoring with the table as it was rather than make every
		// message wait for the lock; the next message tries again.
		cfg.LockTimeout = time.Nanosecond
	}
	s.opens.Add(1)
	st, err := Open(cfg)
	if stale != nil && errors.Is(err, bolterrors.ErrTimeout) {
		return stale, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		snap := &Snapshot{table: newTable(0)}
		s.snap.Store(snap)
		s.gen = generation{}
		return snap, nil
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	snap, err := st.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	// The generation kept is the one read under the lock, so a commit
	// between the pread and the open is never taken for the one seen.
	g.txid = snap.txid
	s.snap.Store(snap)
	s.gen = g
	return snap, nil
}

// Counts reads the counts of tokens from the in-memory snapshot.
func (s *Shared) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, classifier.Totals{}, err
	}
	return snap.Counts(ctx, tokens)
}

// Totals reads the learnt message counts.
func (s *Shared) Totals(ctx context.Context) (classifier.Totals, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return classifier.Totals{}, err
	}
	return snap.Totals(ctx)
}

// Learn opens the file for writing (creating it), learns docs, closes it;
// the next read sees the new generation and rebuilds the snapshot.
func (s *Shared) Learn(ctx context.Context, docs ...classifier.Doc) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	cfg := s.cfg
	cfg.ReadOnly = false
	s.opens.Add(1)
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

// Close drops the snapshot and the descriptor the generation is read
// from; the database itself is never left open.
func (s *Shared) Close() error {
	s.snap.Store(nil)
	s.mu.Lock()
	s.closeMeta()
	s.mu.Unlock()
	return nil
}
