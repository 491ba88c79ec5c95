package rules

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"mailguard/classifier"
	"mailguard/filters"
)

// offlineAreas are the areas, besides the message checks and the
// classifier, whose end-of-DATA checks need neither the network nor a
// daemon: OfflineChain builds them as BuildChain does.
var offlineAreas = map[string]bool{"attachments": true}

// OfflineChain builds the end-of-DATA part of the chain as cfg configures
// it, for judging stored mail without a network: the message checks, with
// now as their clock (DATE_IN_PAST and DATE_IN_FUTURE measure from it),
// the attachment policy, and the classifier, with cl in place of the token
// database, under the configured thresholds. Checks that need DNS, an SMTP
// client or a daemon (DNSBL, URI blocklists, sender and recipient
// verification, SPF/DKIM/DMARC, the virus scanner) are left out.
// mailguard eval -chain runs it on each message of a corpus; it logs
// nothing.
func OfflineChain(cfg *Config, cl *classifier.Classifier, now func() time.Time) (*filters.Chain, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cc := checksFilterConfig(cfg)
	cc.Now = now
	fs := []filters.Filter{filters.NewMessageChecks(cc)}
	for _, b := range builders {
		if !offlineAreas[b.name] {
			continue
		}
		f, err := b.build(cfg, &Deps{Log: quiet})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		fs = append(fs, f...)
	}
	if cfg.Classifier.Enabled {
		fs = append(fs, classifier.NewFilter(classifier.FilterConfig{
			Classifier: cl,
			Weights:    cfg.Classifier.Weights,
			MaxBytes:   cfg.Classifier.MaxBytes,
			Log:        quiet,
		}))
	}
	return filters.NewChain(filters.ChainConfig{Filters: fs, Policy: policy(cfg), Log: quiet}), nil
}
