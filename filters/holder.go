package filters

import (
	"context"
	"io"
)

// Holder durably keeps a message out of delivery for review (the
// quarantine). Front ends call it for a Quarantine outcome and answer the
// client 250 only when Hold returned without error, that is, once the
// message is on disk.
type Holder interface {
	// Hold stores msg, the message exactly as it would have been relayed
	// (added headers included), with the transaction's envelope and the
	// outcome; it returns the quarantine id.
	Hold(ctx context.Context, t *Transaction, out Outcome, msg io.Reader) (id string, err error)
}
