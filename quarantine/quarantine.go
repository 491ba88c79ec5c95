// Package quarantine keeps messages out of delivery for review: the gateway
// holds a message here instead of relaying it when its score reaches the
// quarantine threshold, and an operator later lists, shows, releases,
// deletes or learns from it.
//
// A Store is small on purpose (Put, Get, List, Delete) so the embedded
// implementation in this package and a shared one (Redis) can run the same
// test suite (quarantine/storetest). Holder adapts any Store to the
// filters.Holder the front ends call.
package quarantine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"mailguard/filters"
)

// ErrNotFound is returned for an id that is not in the quarantine.
var ErrNotFound = errors.New("not in quarantine")

// Entry describes one held message: its envelope, where it came from and
// why it was held.
type Entry struct {
	// ID names the entry in the quarantine; Put assigns it.
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
	// From and Subject are the message's header fields, for listing; Put
	// reads them from the message as it stores it.
	From    string `json:"from,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// Store keeps held messages. Implementations stream the message: a large
// one is never held in memory whole.
type Store interface {
	// Put stores msg under a new id and returns the entry as stored (ID,
	// Time, Size, From and Subject filled in). It returns only once the
	// message and its entry are durable; on error nothing is stored.
	Put(ctx context.Context, e Entry, msg io.Reader) (Entry, error)
	// Get returns an entry and a reader of its message, which the caller
	// closes. An unknown id is ErrNotFound.
	Get(ctx context.Context, id string) (Entry, io.ReadCloser, error)
	// List returns every entry, oldest first.
	List(ctx context.Context) ([]Entry, error)
	// Delete removes an entry and its message. An unknown id is
	// ErrNotFound.
	Delete(ctx context.Context, id string) error
	Close() error
}

// idLen is the length of an id in hex digits: short enough to type, long
// enough (48 random bits) that two instances sharing a store do not collide.
const idLen = 12

// newID returns a random id.
func newID() (string, error) {
	b := make([]byte, idLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ValidID reports whether id has the form of a quarantine id; anything else
// is refused before it reaches a file name or a key.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
