package verify

import (
	"context"
	"fmt"
	"log/slog"

	"mailguard/filters"
)

// RecipientsConfig configures recipient verification.
type RecipientsConfig struct {
	// Domains are the local domains; only their recipients are verified
	// (the others are relay control's business).
	Domains []string
	// File is the recipients table; "" is off.
	File string
	// Callout, when not nil, asks Backend about each recipient the table
	// (if any) lets through.
	Callout *Callout
	// Backend is the host:port of the MTA the gateway relays to.
	Backend string
	// Log receives reloads of the table (default slog.Default()).
	Log *slog.Logger
}

// Recipients refuses unknown recipients of the local domains at RCPT TO,
// as Postfix's reject_unlisted_recipient (the table) and
// reject_unverified_recipient (the callout) do. It applies to every client,
// relay clients included, as Postfix's does: mail for a user who does not
// exist is better refused than bounced.
type Recipients struct {
	domains map[string]bool
	table   *table
	callout *Callout
	backend string
}

// NewRecipients builds recipient verification; it reads the table now, so
// a missing or broken file is a start-up error.
func NewRecipients(cfg RecipientsConfig) (*Recipients, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Recipients{domains: domainSet(cfg.Domains), callout: cfg.Callout, backend: cfg.Backend}
	if cfg.File != "" {
		t, err := openTable(cfg.File, cfg.Log)
		if err != nil {
			return nil, err
		}
		r.table = t
	}
	if r.callout != nil && r.backend == "" {
		return nil, fmt.Errorf("recipient callout: no backend address")
	}
	return r, nil
}

// Name implements filters.Filter.
func (r *Recipients) Name() string { return "recipients" }

// CheckRcpt verifies a recipient of a local domain.
func (r *Recipients) CheckRcpt(ctx context.Context, t *filters.Transaction, rcpt string) filters.Verdict {
	a := parseAddress(rcpt)
	if a.Trick != "" || !r.domains[a.Domain] {
		return filters.Pass()
	}
	if r.table != nil && !r.table.contains(a) {
		return filters.Refuse(filters.ReplyUnknownRecipient.About(a.Display), "not in the recipients file")
	}
	if r.callout == nil {
		return filters.Pass()
	}
	res := r.callout.verify(ctx, t.Log, "rcpt "+r.backend+" "+a.key(), a.Domain, a.Display,
		func(context.Context) ([]string, error) { return []string{r.backend}, nil })
	switch res.status {
	case probeAccepted:
		return filters.Pass()
	case probeRefused:
		why := "backend refused it"
		if res.cached {
			why += " (cached)"
		}
		return filters.Refuse(filters.ReplyRecipientUndeliverable.About(a.Display).Because("backend said: "+res.reply.String()), why)
	}
	return filters.Refuse(filters.ReplyRecipientTempfail.About(a.Display), "callout: "+res.why)
}
