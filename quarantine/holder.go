package quarantine

import (
	"context"
	"io"

	"mailguard/classifier"
	"mailguard/filters"
)

// Holder adapts a Store to the filters.Holder the front ends call for a
// Quarantine outcome. Hold returns only after the Store's Put did, that is
// once the message is durable; an error there makes the front end answer
// 451 4.3.0 rather than 250.
//
// The entry is stored under the transaction's queue id, so the id the
// client was told and the log shows finds it; a queue id that is not a
// valid id (or none) gets a random one.
type Holder struct {
	Store Store
}

// Hold implements filters.Holder. It returns the entry's id.
func (h Holder) Hold(ctx context.Context, t *filters.Transaction, out filters.Outcome, msg io.Reader) (string, error) {
	e := Entry{
		QueueID:  t.QueueID,
		Helo:     t.Conn.Helo,
		MailFrom: t.MailFrom,
		Rcpts:    append([]string(nil), t.Rcpts...),
		Score:    out.Score,
		Tests:    out.Tests,
		Reason:   out.Verdict.Reason,
	}
	if ValidID(t.QueueID) {
		e.ID = CanonicalID(t.QueueID)
	}
	if t.Conn.ClientIP.IsValid() {
		e.ClientIP = t.Conn.ClientIP.String()
	}
	if ev, ok := classifier.EvidenceOf(t); ok {
		b := &Bayes{Prob: ev.Prob, Clues: make([]Clue, len(ev.Clues))}
		for i, c := range ev.Clues {
			b.Clues[i] = Clue{Token: c.Token, Prob: c.Prob}
		}
		e.Bayes = b
	}
	// The front end logs the outcome, with the id or the error.
	e, err := h.Store.Put(ctx, e, msg)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}
