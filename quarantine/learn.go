package quarantine

import (
	"context"
	"fmt"
	"io"

	"mailguard/classifier"
)

// Learn teaches ts the held message id as spam or ham, from its first
// maxBytes bytes (the classifier.max_bytes the gateway's filter reads). It
// returns how many messages changed the counts: 0 when it was learnt so
// already.
func Learn(ctx context.Context, s Store, ts classifier.Store, id string, spam bool, maxBytes int64) (int, error) {
	_, rc, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, maxBytes))
	rc.Close()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", id, err)
	}
	n, err := ts.Learn(ctx, classifier.Doc{Digest: classifier.Digest(raw), Spam: spam, Tokens: classifier.Tokenize(raw)})
	if err != nil {
		return 0, fmt.Errorf("learn %s: %w", id, err)
	}
	return n, nil
}
