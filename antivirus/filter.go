package antivirus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"mailguard/filters"
)

// Config configures the filter.
type Config struct {
	Client *Client
	// Quarantine holds infected messages for review instead of
	// refusing them.
	Quarantine bool
	// Accept lets a message through unscanned when clamd cannot be asked
	// (on_error: accept); otherwise the client is told to try again later
	// (451 4.7.1).
	Accept bool
	Log    *slog.Logger
}

// deadlineMargin is kept between the end of a scan and the chain's
// deadline for the check.
const deadlineMargin = time.Second

// Filter scans each message at the end of DATA.
type Filter struct{ cfg Config }

// New returns the filter.
func New(cfg Config) *Filter {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Filter{cfg: cfg}
}

// Name implements filters.Filter.
func (f *Filter) Name() string { return "antivirus" }

// CheckMessage implements filters.MessageChecker: the message as received
// is streamed to clamd. Authenticated and allow-listed senders are scanned
// too: their machines get infected like anyone's.
func (f *Filter) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	log := t.Log
	if log == nil {
		log = f.cfg.Log
	}
	// A verdict after the chain's deadline would be lost, and the message
	// let through unscanned whatever on_error says: finish before it.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	rc, err := m.Open()
	if err != nil {
		return f.failed(t, log, fmt.Errorf("open message: %w", err))
	}
	res, err := f.cfg.Client.Scan(ctx, rc)
	rc.Close()
	if err != nil {
		return f.failed(t, log, err)
	}
	if !res.Infected {
		log.Debug("antivirus: clean", "filter", "antivirus")
		return filters.Pass()
	}
	if f.cfg.Quarantine {
		log.Info("quarantine: virus found", "filter", "antivirus", "signature", res.Signature)
		return filters.Hold("virus found: " + res.Signature)
	}
	r := filters.ReplyVirus.Format(res.Signature).WithQueueID(t.QueueID)
	log.Info("reject: virus found", "filter", "antivirus", "signature", res.Signature, "reply", r.String())
	return filters.Refuse(r, "virus found: "+res.Signature)
}

func (f *Filter) failed(t *filters.Transaction, log *slog.Logger, err error) filters.Verdict {
	if f.cfg.Accept {
		log.Warn("antivirus scan failed; accepted unscanned (on_error: accept)", "filter", "antivirus", "err", err)
		return filters.Pass()
	}
	r := filters.ReplyVirusScanFailed.WithQueueID(t.QueueID)
	log.Warn("tempfail: antivirus scan failed", "filter", "antivirus", "err", err, "reply", r.String())
	return filters.Refuse(r, "virus scan failed: "+err.Error())
}
