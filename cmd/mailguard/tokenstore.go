package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/term"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/classifier/redisstore"
	"mailguard/mailfiles"
	"mailguard/rules"
)

// What train, classify and eval share: the configuration they read and the
// token store they open.

// classifierConfig is the classifier section's scoring settings.
func classifierConfig(cfg *rules.Config) classifier.Config {
	return cfg.Classifier.Scoring()
}

// head is the part of a message the classifier reads: the same first
// classifier.max_bytes the gateway's filter reads, so a message learnt here
// has the digest and tokens it has there.
func head(cfg *rules.Config, raw []byte) []byte {
	if n := cfg.Classifier.MaxBytes; n > 0 && int64(len(raw)) > n {
		return raw[:n]
	}
	return raw
}

// openTokenStore opens the configured token store: the embedded one in
// data_dir, created unless readOnly.
func openTokenStore(cfg *rules.Config, readOnly bool) (classifier.Store, error) {
	if cfg.Store != "" {
		return redisstore.Open(redisstore.Config{URL: cfg.Store, MaxTokens: cfg.Classifier.MaxTokens})
	}
	path := cfg.DataPath(boltstore.FileName)
	if !readOnly {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	st, err := boltstore.Open(boltstore.Config{Path: path, ReadOnly: readOnly, MaxTokens: cfg.Classifier.MaxTokens})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no token database at %s: learn some mail first with mailguard train -spam|-ham PATH", path)
	}
	return st, err
}

// isTerminal reports whether w is a terminal, for progress bars.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// pathList is a flag that may be given several times.
type pathList []string

func (p *pathList) String() string     { return fmt.Sprint(*p) }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }

// openForMessages is how train and classify start: the configuration, the
// message files under paths, and the token store. On failure it has said
// why on stderr and returns the exit status.
func openForMessages(cmd, configPath string, paths []string, readOnly bool, stderr io.Writer) (*rules.Config, []mailfiles.File, classifier.Store, int) {
	cfg, err := rules.Load(configPath)
	if err != nil {
		printConfigError(stderr, cmd, err)
		return nil, nil, nil, exitUsage
	}
	files, err := mailfiles.List(paths)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard %s: %v\n", cmd, err)
		return nil, nil, nil, exitFailed
	}
	st, err := openTokenStore(cfg, readOnly)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard %s: %v\n", cmd, err)
		return nil, nil, nil, exitFailed
	}
	return cfg, files, st, exitOK
}
