package classifier

import (
	"context"
	"crypto/sha256"
)

// Dump is a token store's whole content in a form every store reads and
// writes, for `mailguard store copy`: tokens by their 64-bit FNV-1a hash
// (the stores keep no token text), learnt messages by DigestKey.
type Dump struct {
	Totals   Totals
	Tokens   []TokenRecord
	Messages []MessageRecord
}

// TokenRecord is one token: its hash, counts and the day (since
// 1970-01-01, UTC) it was last learnt.
type TokenRecord struct {
	Hash   uint64
	Counts Counts
	Day    uint16
}

// MessageRecord is one learnt message: its DigestKey, class, learning day
// and the hashes of its tokens (none when the store dropped them).
type MessageRecord struct {
	Key    [16]byte
	Spam   bool
	Day    uint16
	Hashes []uint64
}

// Dumper is a store that can give its content.
type Dumper interface {
	Dump(ctx context.Context) (*Dump, error)
}

// Loader is a store that can take a Dump; it refuses unless it is empty.
// progress, when not nil, is told how many records are written so far.
type Loader interface {
	Load(ctx context.Context, d *Dump, progress func(done, total int)) error
}

// DigestKey is how stores key a learnt message: 128 bits of the SHA-256
// of its digest.
func DigestKey(digest string) [16]byte {
	sum := sha256.Sum256([]byte(digest))
	return [16]byte(sum[:16])
}
