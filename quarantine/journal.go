package quarantine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Event kinds in the journal: what happened to a held message.
const (
	EventHeld     = "held"     // stored by the gateway
	EventReleased = "released" // released by a reviewer (not spam)
	EventSpam     = "spam"     // deleted and learnt as spam
	EventDeleted  = "deleted"  // deleted without learning
	EventExpired  = "expired"  // removed by retention or the size cap
)

// Event is one line of the journal.
type Event struct {
	Time  time.Time `json:"time"`
	ID    string    `json:"id"`
	Kind  string    `json:"kind"`
	Score float64   `json:"score"`
	By    string    `json:"by,omitempty"`
}

// Journal is implemented by stores that keep a record of what happened to
// held messages, for the review UI's statistics. Dir keeps it in a file
// of JSON lines beside the entries.
type Journal interface {
	// Record appends ev.
	Record(ev Event) error
	// Events returns the events since t, oldest first.
	Events(ctx context.Context, since time.Time) ([]Event, error)
}

// Note records ev in s's journal, if s keeps one; failures only cost a
// statistic, so they are not returned.
func Note(s Store, ev Event) {
	if j, ok := s.(Journal); ok {
		if ev.Time.IsZero() {
			ev.Time = time.Now().UTC()
		}
		j.Record(ev)
	}
}

const journalName = "journal.jsonl"

// maxJournal is the journal's size at which Dir starts it afresh, keeping
// the events of the last journalKeep.
const (
	maxJournal  = 8 << 20
	journalKeep = 62 * 24 * time.Hour
)

// Record implements Journal. One write of one line with O_APPEND, so lines
// of two processes do not interleave.
func (d *Dir) Record(ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	path := filepath.Join(d.dir, journalName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxJournal {
		d.compactJournal(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("quarantine journal: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d *Dir) compactJournal(path string) {
	evs, err := d.Events(context.Background(), time.Now().Add(-journalKeep))
	if err != nil {
		return
	}
	d.writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// Events implements Journal.
func (d *Dir) Events(ctx context.Context, since time.Time) ([]Event, error) {
	f, err := os.Open(filepath.Join(d.dir, journalName))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quarantine journal: %w", err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		var ev Event
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Time.Before(since) {
			continue
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// Discard deletes entry id on a reviewer's decision and notes it in the
// journal: as spam (the caller learnt it so) or as merely deleted.
// It fails with ErrLocked while a release of it is being delivered.
func Discard(ctx context.Context, s Store, id, by string, spam bool) error {
	if l, ok := s.(Locker); ok {
		unlock, err := l.Lock(id)
		if err != nil {
			return err
		}
		defer unlock()
	}
	e, rc, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	rc.Close()
	if err := s.Delete(ctx, e.ID); err != nil {
		return err
	}
	kind := EventDeleted
	if spam {
		kind = EventSpam
	}
	Note(s, Event{ID: e.ID, Kind: kind, Score: e.Score, By: by})
	return nil
}

// LastEvent returns the newest journal event of the entry id, if s keeps
// a journal and it still holds one: what became of a message that is no
// longer held (released, deleted, expired), so an operator who asks for
// it is told that rather than only "not found".
func LastEvent(ctx context.Context, s Store, id string) (Event, bool) {
	j, ok := s.(Journal)
	if !ok {
		return Event{}, false
	}
	evs, err := j.Events(ctx, time.Now().Add(-journalKeep))
	if err != nil {
		return Event{}, false
	}
	id = CanonicalID(id)
	for i := len(evs) - 1; i >= 0; i-- {
		if CanonicalID(evs[i].ID) == id {
			return evs[i], true
		}
	}
	return Event{}, false
}
