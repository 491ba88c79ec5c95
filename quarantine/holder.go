package quarantine

import (
	"context"
	"io"

	"mailguard/filters"
)

// Holder adapts a Store to the filters.Holder the front ends call for a
// Quarantine outcome. Hold returns only after the Store's Put did, that is
// once the message is durable; an error there makes the front end answer
// 451 4.3.0 rather than 250.
type Holder struct {
	Store Store
}

// Hold implements filters.Holder.
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
	if t.Conn.ClientIP.IsValid() {
		e.ClientIP = t.Conn.ClientIP.String()
	}
	// The front end logs the outcome, with the id or the error.
	e, err := h.Store.Put(ctx, e, msg)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}
