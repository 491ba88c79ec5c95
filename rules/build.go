package rules

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
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
	order int
	name  string
	build func(cfg *Config, d *Deps) ([]filters.Filter, error)
}

var builders []builder

// register adds an area's filters to every chain. Each area registers from
// its own build_*.go file; order fixes the place in the chain (ties between
// equally strong verdicts go to the earlier filter):
//
//	10 block/allow lists, 20 relay control, 30 DNSBL, 35 RHSBL,
//	40 sender verification, 50 recipient verification,
//	60 message checks, 62 antivirus, 64 attachments, 66 URIBL,
//	70 SPF/DKIM/DMARC, 80 classifier.
func register(order int, name string, build func(cfg *Config, d *Deps) ([]filters.Filter, error)) {
	builders = append(builders, builder{order: order, name: name, build: build})
	sort.SliceStable(builders, func(i, j int) bool { return builders[i].order < builders[j].order })
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
