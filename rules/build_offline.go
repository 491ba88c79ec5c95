package rules

import (
	"io"
	"log/slog"
	"time"

	"mailguard/classifier"
	"mailguard/filters"
)

// OfflineChain builds the end-of-DATA part of the chain as cfg configures
// it, for judging stored mail without a network: the message checks, with
// now as their clock (DATE_IN_PAST and DATE_IN_FUTURE measure from it), and
// the classifier, with cl in place of the token database, under the
// configured thresholds. Checks that need DNS or an SMTP client (DNSBL,
// sender and recipient verification, SPF/DKIM/DMARC) are left out.
// mailguard eval -chain runs it on each message of a corpus; it logs
// nothing.
func OfflineChain(cfg *Config, cl *classifier.Classifier, now func() time.Time) *filters.Chain {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cc := checksFilterConfig(cfg)
	cc.Now = now
	fs := []filters.Filter{filters.NewMessageChecks(cc)}
	if cfg.Classifier.Enabled {
		fs = append(fs, classifier.NewFilter(classifier.FilterConfig{
			Classifier: cl,
			Weights:    cfg.Classifier.Weights,
			MaxBytes:   cfg.Classifier.MaxBytes,
			Log:        quiet,
		}))
	}
	return filters.NewChain(filters.ChainConfig{Filters: fs, Policy: policy(cfg), Log: quiet})
}
