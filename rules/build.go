package rules

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"mailguard/filters"
	"mailguard/resolver"
)

// Deps are the long-lived resources filters are built with. They outlive a
// configuration reload: a reload builds a new chain on the same Deps.
type Deps struct {
	// Resolver answers every DNS question of the chain.
	Resolver resolver.Resolver
	Log      *slog.Logger

	mu     sync.Mutex
	shared map[string]any
	order  []string
}

// Shared returns the resource stored under key, opening it once with open.
// Embedded stores are opened this way, because a file database can be
// opened only once per process and must survive reloads. Resources that
// implement io.Closer are closed by Close, last opened first.
func (d *Deps) Shared(key string, open func() (any, error)) (any, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.shared[key]; ok {
		return v, nil
	}
	v, err := open()
	if err != nil {
		return nil, err
	}
	if d.shared == nil {
		d.shared = map[string]any{}
	}
	d.shared[key] = v
	d.order = append(d.order, key)
	return v, nil
}

// Close closes the shared resources.
func (d *Deps) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for i := len(d.order) - 1; i >= 0; i-- {
		if c, ok := d.shared[d.order[i]].(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = fmt.Errorf("close %s: %w", d.order[i], err)
			}
		}
	}
	d.shared, d.order = nil, nil
	return first
}

// builder makes the filters of one area from the configuration.
type builder struct {
	name  string
	build func(cfg *Config, d *Deps) ([]filters.Filter, error)
}

// builders is the filter chain, in order: each area's builder lives in its
// own build_*.go file, and its place is its line here. The order is the
// SMTP dialogue's (connection, then envelope, then content) and, within a
// phase, cheapest first; ties between equally strong verdicts go to the
// earlier filter. A new area adds one line.
var builders = []builder{
	{"lists", buildLists},              // block and allow lists
	{"relay", buildRelay},              // relay control
	{"dnsbl", buildDNSBL},              // client DNS lists
	{"rdns", buildRDNS},                // reverse DNS scores
	{"rhsbl", buildRHSBL},              // HELO and sender domain DNS lists
	{"sender", buildSender},            // sender verification
	{"recipients", buildRecipients},    // recipient verification
	{"greylist", buildGreylist},        // greylisting, after the recipient is known good
	{"sender_login", buildSenderLogin}, // Sender: for authenticated clients
	{"checks", buildChecks},            // message checks
	{"antivirus", buildAntivirus},      // clamd
	{"attachments", buildAttachments},
	{"uribl", buildURIBL},     // body link lists
	{"authres", buildAuthres}, // SPF, DKIM, DMARC
	{"classifier", buildClassifier},
}

// BuildChain builds the filter chain and the score policy from a validated
// configuration.
func BuildChain(cfg *Config, d *Deps) (*filters.Chain, error) {
	var fs []filters.Filter
	for _, b := range builders {
		f, err := b.build(cfg, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		fs = append(fs, f...)
	}
	return filters.NewChain(filters.ChainConfig{Filters: fs, Policy: policy(cfg), Log: d.Log}), nil
}

// policy is the thresholds' score policy.
func policy(cfg *Config) filters.Policy {
	return filters.Policy{Tag: cfg.Thresholds.Tag, Quarantine: cfg.Thresholds.Quarantine, Reject: cfg.Thresholds.Reject}
}
