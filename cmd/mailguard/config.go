package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"mailguard/resolver"
	"mailguard/rules"
)

// loadConfig reads and validates a configuration as serve needs it: the
// file's own rules (rules.Load), what this build can run (listeners,
// stores), and a trial build of everything serve builds from it before it
// listens. It is the one validation that serve, its reload and
// check-config share, so check-config says OK exactly when serve would
// start, short of run-time failures (a port in use, a full disk).
func loadConfig(path string) (*rules.Config, error) {
	cfg, err := rules.Load(path, runnable)
	return checked(path, cfg, err)
}

// parseConfig is loadConfig on a file's bytes already read.
func parseConfig(path string, data []byte) (*rules.Config, error) {
	cfg, err := rules.Parse(path, data, runnable)
	return checked(path, cfg, err)
}

func checked(path string, cfg *rules.Config, err error) (*rules.Config, error) {
	if err != nil {
		return nil, err
	}
	if err := trialBuild(cfg); err != nil {
		name := path
		if name == "" {
			name = rules.DefaultsName
		}
		return nil, &rules.Errors{Problems: []rules.Problem{{File: name, Msg: err.Error()}}}
	}
	return cfg, nil
}

// readForReload reads the configuration file for a reload, refusing what
// is far more likely a mistake or a file caught while being written than
// a wish: a document that sets no key at all (it would swap the running
// configuration for the built-in defaults), a file whose last line has no
// line end (cut short), and one that changes while it is read. Without
// -config there is no file: the built-in defaults are read again.
func readForReload(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	before, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if after, err := os.Stat(path); err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || int64(len(data)) != after.Size() {
		return nil, fmt.Errorf("%s changed while it was read; send SIGHUP again once it is saved", path)
	}
	if err := reloadRefusal(path, data); err != nil {
		return nil, err
	}
	return data, nil
}

// reloadRefusal says why a reload would refuse a file's content, which
// serve accepts at startup (a blank file is the built-in defaults there);
// check-config warns with the same words.
func reloadRefusal(path string, data []byte) error {
	if rules.Blank(data) {
		return fmt.Errorf("%s sets no key (it is empty or only comments); a reload would replace the running configuration with the built-in defaults", path)
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		return fmt.Errorf("%s does not end with a line end, as if caught while being written; send SIGHUP again once it is saved", path)
	}
	return nil
}

// runnable refuses what this build cannot run. Starting without it would
// leave an operator believing, say, that the MTA's milter traffic was
// filtered. A listener becomes runnable when its file registers it
// (registerService). The store is validated with the configuration.
func runnable(cfg *rules.Config, r rules.Reporter) {
	for _, l := range []struct{ key, value string }{
		{"milter.listen", cfg.Milter.Listen},
		{"web.listen", cfg.Web.Listen},
		{"metrics.listen", cfg.Metrics.Listen},
	} {
		if l.value != "" && !hasService(l.key) {
			r.Errorf(l.key, "is set, but this version has no such listener; leave it empty")
		}
	}
}

// trialBuild builds, and throws away, what serve builds from the
// configuration before it listens: the resolver, the filter chain, the
// TLS certificate and the AUTH users. It opens no store and binds no port.
func trialBuild(cfg *rules.Config) error {
	log := slog.New(slog.DiscardHandler)
	res, err := resolver.New(resolver.Config{Server: cfg.DNS.Resolver, Timeout: cfg.DNS.Timeout, CacheSize: -1, Log: log})
	if err != nil {
		return fmt.Errorf("dns.resolver: %w", err)
	}
	deps := &rules.Deps{Resolver: res, Log: log}
	defer deps.Close()
	if _, err := rules.BuildChain(cfg, deps); err != nil {
		return fmt.Errorf("building the filter chain: %w", err)
	}
	if _, err := loadTLS(cfg); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if _, err := loadUsers(cfg); err != nil {
		return fmt.Errorf("auth.users_file: %w", err)
	}
	return nil
}
