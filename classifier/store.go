package classifier

import "context"

// Counts are how many learnt spam and ham messages held a token.
type Counts struct {
	Spam, Ham uint32
}

// Totals are how many spam and ham messages were learnt.
type Totals struct {
	Spam, Ham uint64
}

// Doc is one message to learn: its digest (so learning twice counts once
// and relearning as the other class moves it), its class and its distinct
// tokens.
type Doc struct {
	Digest string
	Spam   bool
	Tokens []string
}

// Store keeps token counts. The embedded implementation lives under
// data_dir; a Redis one shares them between instances.
type Store interface {
	// Learn adds docs in one batch; it returns how many changed the
	// counts (new, or moved to the other class).
	Learn(ctx context.Context, docs ...Doc) (int, error)
	// Counts returns the counts of each token (zero for unknown ones) and
	// the totals, from one consistent view.
	Counts(ctx context.Context, tokens []string) ([]Counts, Totals, error)
	// Totals returns the learnt message counts.
	Totals(ctx context.Context) (Totals, error)
	Close() error
}
