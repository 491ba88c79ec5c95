package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The embedded store is a directory of plain files, two an entry:
// ID.eml (the message) and ID.json (the entry). The .json file is the
// commit mark: an entry exists exactly when its .json does. Each is written
// under a temporary name, synced, renamed into place, and the directory
// synced (the message first), so Put returns only once a crash can no
// longer lose the message, and never leaves an entry without its message.
//
// Files rather than a bbolt database because the operator's commands
// (mailguard quarantine list, release, ...) must work while the gateway
// runs, and bbolt allows one process at a time; and because bbolt takes a
// value as one []byte, which would hold a 20 MB message in memory whole.
const (
	msgExt  = ".eml"
	metaExt = ".json"
	tmpPre  = ".tmp-"
	// staleTmp is the age after which a temporary file is an interrupted
	// write to remove; younger ones may belong to a Put running in another
	// process.
	staleTmp = time.Hour
)

// Dir is the embedded Store, a directory under data_dir.
type Dir struct {
	dir string
}

// OpenDir opens (creating it if need be) the store in dir, and removes what
// interrupted writes left behind.
func OpenDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	d := &Dir{dir: dir}
	d.cleanup()
	return d, nil
}

// cleanup removes stale temporary files and messages whose entry was never
// committed (or whose deletion was interrupted).
func (d *Dir) cleanup() {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return
	}
	have := map[string]bool{}
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), metaExt); ok {
			if up := CanonicalID(id); up != id && ValidID(id) {
				// Earlier versions named entries in lower case: rename
				// them (message first) so every id is found one way.
				if os.Rename(filepath.Join(d.dir, id+msgExt), filepath.Join(d.dir, up+msgExt)) == nil &&
					os.Rename(filepath.Join(d.dir, id+metaExt), filepath.Join(d.dir, up+metaExt)) == nil {
					id = up
				}
			}
			have[id] = true
		}
	}
	if ents, err = os.ReadDir(d.dir); err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTmp {
			continue
		}
		id, isMsg := strings.CutSuffix(name, msgExt)
		if strings.HasPrefix(name, tmpPre) || (isMsg && !have[id]) {
			os.Remove(filepath.Join(d.dir, name))
		}
	}
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, e Entry, msg io.Reader) (Entry, error) {
	id, err := putID(e)
	if err != nil {
		return Entry{}, err
	}
	if _, err := os.Lstat(filepath.Join(d.dir, id+metaExt)); err == nil {
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, ErrExists)
	}
	e.ID = id
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	sn := &sniffer{r: msg}
	msgPath := filepath.Join(d.dir, id+msgExt)
	if err := d.writeNew(msgPath, func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx, sn})
		return err
	}); err != nil {
		return Entry{}, fmt.Errorf("quarantine: store message: %w", err)
	}
	// The message's rename must be on disk before the entry that points
	// at it can be: otherwise a crash could leave an entry without its
	// message.
	if err := syncDir(d.dir); err != nil {
		os.Remove(msgPath)
		return Entry{}, fmt.Errorf("quarantine: %w", err)
	}
	sn.fill(&e)
	meta, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		os.Remove(msgPath)
		return Entry{}, fmt.Errorf("quarantine: %w", err)
	}
	if err := d.writeNew(filepath.Join(d.dir, id+metaExt), func(w io.Writer) error {
		_, err := w.Write(append(meta, '\n'))
		return err
	}); err != nil {
		os.Remove(msgPath)
		return Entry{}, fmt.Errorf("quarantine: store entry: %w", err)
	}
	if err := syncDir(d.dir); err != nil {
		// The renames may not survive a crash: take the entry back so the
		// client is not told it is stored.
		d.remove(id)
		return Entry{}, fmt.Errorf("quarantine: %w", err)
	}
	Note(d, Event{Time: e.Time, ID: id, Kind: EventHeld, Score: e.Score})
	return e, nil
}

// writeNew is writeFile for a path that must not exist yet: the temporary
// file is linked, not renamed, into place, so two writers of one id (two
// processes, or a queue id seen again) cannot replace each other's file.
func (d *Dir) writeNew(path string, write func(io.Writer) error) error {
	return d.write(path, write, func(tmp, path string) error {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", filepath.Base(path), ErrExists)
			}
			return err
		}
		return os.Remove(tmp)
	})
}

// writeFile writes a file under a temporary name, syncs it and renames it
// to path.
func (d *Dir) writeFile(path string, write func(io.Writer) error) error {
	return d.write(path, write, os.Rename)
}

func (d *Dir) write(path string, write func(io.Writer) error, place func(tmp, path string) error) error {
	f, err := os.CreateTemp(d.dir, tmpPre+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, id string) (Entry, io.ReadCloser, error) {
	id = CanonicalID(id)
	e, err := d.entry(id)
	if err != nil {
		return Entry{}, nil, err
	}
	f, err := os.Open(filepath.Join(d.dir, id+msgExt))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, nil, fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
		}
		return Entry{}, nil, fmt.Errorf("quarantine %s: %w", id, err)
	}
	return e, f, nil
}

func (d *Dir) entry(id string) (Entry, error) {
	id = CanonicalID(id)
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(d.dir, id+metaExt))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
		}
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	e.ID = id
	return e, nil
}

// Update implements Store.
func (d *Dir) Update(ctx context.Context, e Entry) error {
	id := CanonicalID(e.ID)
	if _, err := d.entry(id); err != nil {
		return err
	}
	e.ID = id
	meta, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	if err := d.writeFile(filepath.Join(d.dir, id+metaExt), func(w io.Writer) error {
		_, err := w.Write(append(meta, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("quarantine %s: update entry: %w", id, err)
	}
	if err := syncDir(d.dir); err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	return nil
}

// Lock takes id's delivery lock, so two processes (the gateway and the
// operator's command) never deliver one release at the same time; it
// fails with ErrLocked while another holds it. A lock left by a crash is
// taken over after staleTmp.
func (d *Dir) Lock(id string) (unlock func(), err error) {
	id = CanonicalID(id)
	if !ValidID(id) {
		return nil, fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	path := filepath.Join(d.dir, tmpPre+"lock-"+id)
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("quarantine %s: lock: %w", id, err)
		}
		if info, serr := os.Stat(path); serr == nil && time.Since(info.ModTime()) > staleTmp {
			os.Remove(path)
			continue
		}
		break
	}
	return nil, fmt.Errorf("quarantine %s: %w", id, ErrLocked)
}

// List implements Store.
func (d *Dir) List(ctx context.Context) ([]Entry, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	var out []Entry
	for _, de := range ents {
		id, ok := strings.CutSuffix(de.Name(), metaExt)
		if !ok || !ValidID(id) || id != CanonicalID(id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := d.entry(id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, id string) error {
	id = CanonicalID(id)
	if !ValidID(id) {
		return fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	if err := os.Remove(filepath.Join(d.dir, id+metaExt)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	// The entry is gone once its .json is; a message file left by a crash
	// here is removed by the next OpenDir.
	os.Remove(filepath.Join(d.dir, id+msgExt))
	if err := syncDir(d.dir); err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	return nil
}

func (d *Dir) remove(id string) {
	os.Remove(filepath.Join(d.dir, id+metaExt))
	os.Remove(filepath.Join(d.dir, id+msgExt))
}

// Close implements Store; the directory holds no open resources.
func (d *Dir) Close() error { return nil }

// ctxReader stops a copy when the context ends, so a Hold whose client went
// away does not keep writing.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
