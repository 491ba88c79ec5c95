// Package quarantine keeps messages out of delivery for review: the gateway
// holds a message here instead of relaying it when its score reaches the
// quarantine threshold, and an operator later lists, shows, releases,
// deletes or learns from it.
//
// A Store is small on purpose (Put, Get, List, Update, Delete) so the embedded
// implementation in this package and a shared one (Redis) can run the same
// test suite (quarantine/storetest). Holder adapts any Store to the
// filters.Holder the front ends call.
package quarantine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mailguard/filters"
)

// ErrNotFound is returned for an id that is not in the quarantine.
var ErrNotFound = errors.New("not in quarantine")

// Entry describes one held message: its envelope, where it came from and
// why it was held.
type Entry struct {
	// ID names the entry in the quarantine: the queue id the client was
	// told when the holder knew one, else a random one Put assigns. It is
	// upper-case; input is matched without regard to case (CanonicalID).
	ID string `json:"id"`
	// Time is when the message was held; Put sets it when zero.
	Time     time.Time `json:"time"`
	QueueID  string    `json:"queue_id"`
	ClientIP string    `json:"client_ip"`
	Helo     string    `json:"helo"`
	// MailFrom is the reverse path without angle brackets; "" is the null
	// sender.
	MailFrom string   `json:"mail_from"`
	Rcpts    []string `json:"rcpts"`
	Score    float64  `json:"score"`
	// Tests are the tests that fired, with their points.
	Tests  []filters.Score `json:"tests"`
	Reason string          `json:"reason,omitempty"`
	// Size is the stored message's size in bytes; Put sets it.
	Size int64 `json:"size"`
	// From and Subject are the message's header fields decoded to UTF-8
	// (RFC 2047 encoded words; raw 8-bit text that is not UTF-8 read as
	// Windows-1252), for listing; Put reads them from the message as it
	// stores it.
	From    string `json:"from,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Bayes is the classifier's evidence, when it gave an opinion.
	Bayes *Bayes `json:"bayes,omitempty"`
	// Release is set once a reviewer released the message; the entry
	// stays until every recipient's delivery is settled.
	Release *Release `json:"release,omitempty"`
}

// Bayes is the classifier's verdict on a held message.
type Bayes struct {
	// Prob is the spam probability, 0 to 1.
	Prob float64 `json:"prob"`
	// Clues are the most extreme tokens that decided, most extreme first.
	Clues []Clue `json:"clues"`
}

// Clue is one token with its spam probability f(w), 0 to 1.
type Clue struct {
	Token string  `json:"token"`
	Prob  float64 `json:"prob"`
}

// Release records a reviewer's release and how its delivery goes.
type Release struct {
	// By is the reviewer (a web login, or the operator's user name).
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Pending are the recipients still to deliver to; Delivered took
	// the message; Refused refused it permanently (with the reply).
	Pending   []string `json:"pending"`
	Delivered []string `json:"delivered,omitempty"`
	Refused   []string `json:"refused,omitempty"`
	// Attempts counts delivery attempts; NextAttempt is when the next
	// may start after a temporary failure, whose text is LastError.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Store keeps held messages. Implementations stream the message: a large
// one is never held in memory whole.
type Store interface {
	// Put stores msg under e.ID (ErrExists if taken), or a new random id
	// when e.ID is empty, and returns the entry as stored (ID, Time, Size,
	// From and Subject filled in). It returns only once the message and
	// its entry are durable; on error nothing is stored.
	Put(ctx context.Context, e Entry, msg io.Reader) (Entry, error)
	// Get returns an entry and a reader of its message, which the caller
	// closes. An unknown id is ErrNotFound.
	Get(ctx context.Context, id string) (Entry, io.ReadCloser, error)
	// List returns every entry, oldest first.
	List(ctx context.Context) ([]Entry, error)
	// Update replaces the stored entry e.ID (not its message), for the
	// release's progress. An unknown id is ErrNotFound.
	Update(ctx context.Context, e Entry) error
	// Delete removes an entry and its message. An unknown id is
	// ErrNotFound.
	Delete(ctx context.Context, id string) error
	Close() error
}

// ErrLocked is returned while another process delivers the same entry.
var ErrLocked = errors.New("being delivered by another process")

// ErrExists is returned by Put for an id already in the quarantine.
var ErrExists = errors.New("already in quarantine")

// idLen is the length of a random id in hex digits: short enough to type,
// long enough (48 random bits) that two instances sharing a store do not
// collide. It is also the length of the proxy's queue ids.
const idLen = 12

// maxIDLen bounds an id: Postfix's long queue ids, which a milter front end
// passes on, are up to about 20 characters.
const maxIDLen = 32

// newID returns a random id.
func newID() (string, error) {
	b := make([]byte, idLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToUpper(hex.EncodeToString(b)), nil
}

// CanonicalID returns id as the store names it: upper-case, so an id typed
// from a log or a bounce in either case finds the entry.
func CanonicalID(id string) string { return strings.ToUpper(id) }

// ValidID reports whether id, in either case, has the form of a quarantine
// id (1 to 32 letters and digits); anything else is refused before it
// reaches a file name or a key.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// putID is the id a new entry is stored under: the one it was given (the
// queue id), or a new one when it has none.
func putID(e Entry) (string, error) {
	id := CanonicalID(e.ID)
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return "", fmt.Errorf("quarantine: new id: %w", err)
		}
	} else if !ValidID(id) {
		return "", fmt.Errorf("quarantine: id %q: want 1 to %d letters and digits", e.ID, maxIDLen)
	}
	return id, nil
}
