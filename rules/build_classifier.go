package rules

import (
	"fmt"
	"os"
	"path/filepath"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/classifier/redisstore"
	"mailguard/filters"
)

// tokenStoreKey is the Deps key of the token store: one per process,
// kept across configuration reloads.
const tokenStoreKey = "tokens"

func buildClassifier(cfg *Config, d *Deps) ([]filters.Filter, error) {
	cc := cfg.Classifier
	if !cc.Enabled {
		return nil, nil
	}
	scoring := cc.Scoring()
	// The store opens with the first message, not here: building a chain
	// (check-config, tests, a reload) must not need the database file.
	open := func() (*classifier.Classifier, error) {
		st, err := TokenStore(cfg, d)
		if err != nil {
			return nil, err
		}
		return classifier.New(scoring, st), nil
	}
	al := classifier.Autolearn{Enabled: cc.Autolearn.Enabled, SpamScore: cc.Autolearn.SpamScore, HamMaxScore: cc.Autolearn.HamMaxScore}
	return []filters.Filter{classifier.NewFilter(classifier.FilterConfig{
		Open:      open,
		Weights:   cc.Weights,
		MaxBytes:  cc.MaxBytes,
		Autolearn: al,
		Log:       d.Log,
	})}, nil
}

// TokenStore returns the process's token store (the embedded one in
// data_dir, or Redis when store names it), opening it on first use: the
// classifier filter and the review UI's learning share it.
func TokenStore(cfg *Config, d *Deps) (classifier.Store, error) {
	path := cfg.DataPath(boltstore.FileName)
	v, err := d.Shared(tokenStoreKey, func() (any, error) {
		if cfg.Store != "" {
			// One store per process, reconnecting by itself. Fail fast:
			// a message is classified without the Bayes score rather
			// than wait for a Redis that is down or hangs.
			return redisstore.Open(redisstore.Config{URL: cfg.Store, MaxTokens: cfg.Classifier.MaxTokens, FailFast: true, Log: d.Log})
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		// Read into memory and reloaded after each commit, never held
		// open: train, classify and quarantine learn can use the file
		// while the gateway runs.
		return boltstore.OpenShared(boltstore.Config{Path: path, MaxTokens: cfg.Classifier.MaxTokens}), nil
	})
	if err != nil {
		return nil, err // it names the file
	}
	st, ok := v.(classifier.Store)
	if !ok {
		return nil, fmt.Errorf("token store: shared resource %q is a %T", tokenStoreKey, v)
	}
	return st, nil
}
