package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"time"

	"mailguard/filters"
	"mailguard/proxy"
	"mailguard/quarantine"
	"mailguard/relay"
	"mailguard/resolver"
	"mailguard/rules"
)

func init() {
	register(command{name: "serve", summary: "runs the gateway: the SMTP proxy and the configured listeners", run: runServe})
}

// A service runs beside the SMTP proxy (the milter, the review web UI,
// metrics). Each lives in its own file and registers a constructor with
// registerService; a constructor returns nil when its listener is not
// configured.
type service interface {
	// Name is used in logs.
	Name() string
	// Serve runs until Shutdown; an error ends the whole process.
	Serve() error
	Shutdown(ctx context.Context) error
}

// serveEnv is what services are built from. Chain returns the chain in use
// now: it changes on reload.
type serveEnv struct {
	Config     *rules.Config
	Deps       *rules.Deps
	Chain      func() *filters.Chain
	Quarantine quarantine.Store
	Log        *slog.Logger
	// Serving reports whether the SMTP proxy accepts connections.
	Serving func() bool
}

var (
	services    []func(env *serveEnv) (service, error)
	serviceKeys = map[string]bool{}
)

// registerService adds a listener's constructor; key is its configuration
// key ("milter.listen").
func registerService(key string, f func(env *serveEnv) (service, error)) {
	services = append(services, f)
	serviceKeys[key] = true
}

func hasService(key string) bool { return serviceKeys[key] }

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `FILE` (default: the built-in defaults)")
	fs.Usage = func() { serveUsage(fs) }
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mailguard serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		printConfigError(stderr, "serve", err)
		return exitUsage
	}
	log := newLogger(stderr, cfg.Log)
	slog.SetDefault(log)
	if data, err := os.ReadFile(*path); err == nil && rules.Blank(data) {
		// Allowed, but as often a mistake as a wish: say so.
		log.Warn("the configuration file sets no key; running on the built-in defaults", "file", *path)
	}
	return serve(*path, cfg, log)
}

func serveUsage(fs *flag.FlagSet) {
	d := rules.Default()
	w := fs.Output()
	fmt.Fprintln(w, "usage: mailguard serve [-config FILE]")
	fmt.Fprintln(w, "\nRuns the gateway until SIGTERM or SIGINT (graceful stop); SIGHUP reloads the configuration.")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nBuilt-in defaults (used without -config, and for keys a file leaves out; docs/configuration.md says what each key means):")
	for _, k := range rules.Keys(d) {
		v := k.Default
		if n := entries(k); len(v) > 60 && n > 0 {
			v = fmt.Sprintf("%d entries (listed in docs/configuration.md)", n)
		}
		fmt.Fprintf(w, "  %-38s %s\n", k.Name, v)
	}
}

// entries is the number of items of a list or mapping key, 0 for others.
func entries(k rules.Key) int {
	switch k.Value.Kind() {
	case reflect.Slice, reflect.Map:
		return k.Value.Len()
	}
	return 0
}

func orText(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

// printConfigError prints every configuration problem as file:line: key.
func printConfigError(w io.Writer, cmd string, err error) {
	var errs *rules.Errors
	if errors.As(err, &errs) {
		for _, p := range errs.Problems {
			fmt.Fprintln(w, p)
		}
		fmt.Fprintf(w, "mailguard %s: %d configuration problem(s)\n", cmd, len(errs.Problems))
		return
	}
	fmt.Fprintf(w, "mailguard %s: %v\n", cmd, err)
}

// gateway is what a running serve holds.
type gateway struct {
	path string
	log  *slog.Logger
	// started is the configuration the process started with: the keys a
	// reload cannot change keep its values.
	started *rules.Config
	deps    *rules.Deps
	res     resolver.Resolver
	holder  filters.Holder
	proxy   *proxy.Proxy

	mu    sync.Mutex
	cfg   *rules.Config
	chain *filters.Chain
}

func serve(path string, cfg *rules.Config, log *slog.Logger) int {
	// Signals are caught from the start: one that arrives before the
	// "listening" line must not kill the process the default way.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		log.Error("data directory", "dir", cfg.DataDir, "err", err)
		return exitFailed
	}
	res, err := resolver.New(resolver.Config{Server: cfg.DNS.Resolver, Timeout: cfg.DNS.Timeout, Log: log})
	if err != nil {
		log.Error("configuration: dns.resolver", "err", err)
		return exitUsage
	}
	deps := &rules.Deps{Resolver: res, Log: log}
	defer deps.Close()
	chain, err := rules.BuildChain(cfg, deps)
	if err != nil {
		log.Error("building the filter chain", "err", err)
		return exitFailed
	}
	// With Redis, rate limits, pregreet passes, greylisting and callout
	// answers are shared with the other instances.
	if _, err := rules.SharedAnvil(cfg, deps); err != nil {
		log.Error("opening the anvil store", "err", err)
		return exitFailed
	}
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		log.Error("configuration: tls", "err", err)
		return exitUsage
	}
	users, err := loadUsers(cfg)
	if err != nil {
		log.Error("configuration: auth.users_file", "err", err)
		return exitUsage
	}
	if users != nil && tlsConfig == nil {
		log.Warn("auth.users_file is set but tls is not: AUTH is offered only under TLS, so never")
	}
	store, err := quarantine.Open(quarantine.Config{DataDir: cfg.DataDir, Store: cfg.Store})
	if err != nil {
		log.Error("opening the quarantine", "err", err)
		return exitFailed
	}
	defer store.Close()

	g := &gateway{path: path, log: log, started: cfg, cfg: cfg, deps: deps, res: res, holder: quarantine.Holder{Store: store}, chain: chain}
	g.proxy, err = proxy.New(g.proxyConfig(cfg, chain, tlsConfig, users))
	if err != nil {
		log.Error("starting the proxy", "err", err)
		return exitFailed
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "err", err)
		return exitFailed
	}

	env := &serveEnv{Config: cfg, Deps: deps, Chain: g.currentChain, Quarantine: store, Log: log, Serving: g.proxy.Serving}
	var running []service
	for _, mk := range services {
		s, err := mk(env)
		if err != nil {
			l.Close()
			log.Error("starting a service", "err", err)
			return exitFailed
		}
		if s != nil {
			running = append(running, s)
		}
	}

	failed := make(chan error, 1+len(running))
	go func() {
		if err := g.proxy.Serve(l); err != nil {
			failed <- fmt.Errorf("smtp: %w", err)
		}
	}()
	for _, s := range running {
		go func() {
			if err := s.Serve(); err != nil {
				failed <- fmt.Errorf("%s: %w", s.Name(), err)
			}
		}()
	}
	log.Info("listening", "service", "smtp", "addr", l.Addr().String(), "backend", cfg.Backend, "hostname", cfg.Hostname,
		"tls", tlsConfig != nil, "auth", users != nil)

	status := exitOK
	for stop := false; !stop; {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				g.reload()
				continue
			}
			log.Info("stopping", "signal", sig.String(), "deadline", shutdownTimeout(g.config()).String())
			stop = true
		case err := <-failed:
			log.Error("stopping after a failure", "err", err)
			status = exitFailed
			stop = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout(g.config()))
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				log.Warn("service shutdown", "service", s.Name(), "err", err)
			}
		}()
	}
	if err := g.proxy.Shutdown(ctx); err != nil {
		log.Warn("shutdown deadline passed; transactions in progress were cut", "err", err)
	}
	wg.Wait()
	log.Info("stopped")
	return status
}

func shutdownTimeout(cfg *rules.Config) time.Duration {
	if cfg.Limits.ShutdownTimeout > 0 {
		return cfg.Limits.ShutdownTimeout
	}
	return 30 * time.Second
}

// proxyConfig maps the configuration onto the proxy's.
func (g *gateway) proxyConfig(cfg *rules.Config, chain *filters.Chain, tlsConfig *tls.Config, users *proxy.Users) proxy.Config {
	return proxy.Config{
		Hostname:            cfg.Hostname,
		Backend:             cfg.Backend,
		Chain:               chain,
		Holder:              g.holder,
		Resolver:            g.res,
		DNSTimeout:          cfg.DNS.Timeout,
		SpoolDir:            filepath.Join(g.started.DataDir, "spool"),
		MaxMessageBytes:     cfg.MaxMessageBytes,
		MaxRecipients:       cfg.MaxRecipients,
		MaxConnections:      cfg.Limits.MaxConnections,
		MaxConnectionsPerIP: cfg.Limits.MaxConnectionsPerIP,
		MaxLineLength:       cfg.Limits.MaxLineLength,
		CommandTimeout:      cfg.Limits.CommandTimeout,
		DataTimeout:         cfg.Limits.DataTimeout,
		BackendTimeout:      cfg.Limits.BackendTimeout,
		BackendForward:      relay.ForwardMode(cfg.BackendForward),
		TLS:                 tlsConfig,
		Users:               users,
		Log:                 g.log,
		Abuse:               g.abuse(cfg),
	}
}

// abuse is the proxy's abuse settings: with Redis its counters and
// pregreet passes live there (opened by serve, so no error here).
func (g *gateway) abuse(cfg *rules.Config) proxy.Abuse {
	a := cfg.ProxyAbuse()
	if s, err := rules.SharedAnvil(cfg, g.deps); err == nil && s != nil {
		a.Store = s
	}
	return a
}

func (g *gateway) config() *rules.Config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

func (g *gateway) currentChain() *filters.Chain {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.chain
}

// reload reads the configuration again and, when it is good, applies it:
// the chain and the AUTH users to every new transaction, the other keys
// (sizes, limits, backend, hostname, TLS certificate) to the connections
// accepted from now on. Connections stay up; a broken file keeps the
// running configuration.
func (g *gateway) reload() {
	g.log.Info("reloading configuration", "file", orText(g.path, rules.DefaultsName))
	data, err := readForReload(g.path)
	if err != nil {
		g.log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	var cfg *rules.Config
	if g.path == "" {
		cfg, err = loadConfig("")
	} else {
		cfg, err = parseConfig(g.path, data)
	}
	if err != nil {
		var errs *rules.Errors
		if errors.As(err, &errs) {
			for _, p := range errs.Problems {
				g.log.Error("reload refused; keeping the running configuration", "problem", p.String())
			}
		} else {
			g.log.Error("reload refused; keeping the running configuration", "err", err)
		}
		return
	}
	chain, err := rules.BuildChain(cfg, g.deps)
	if err != nil {
		g.log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	users, err := loadUsers(cfg)
	if err != nil {
		g.log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		g.log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	if err := g.proxy.Reconfigure(g.proxyConfig(cfg, chain, tlsConfig, users)); err != nil {
		g.log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	for _, k := range restartKeys(g.started, cfg) {
		g.log.Warn("changed key takes effect at the next restart", "key", k)
	}
	g.mu.Lock()
	old := g.cfg
	g.cfg, g.chain = cfg, chain
	g.mu.Unlock()
	// One line per key, so a mistaken edit shows at once.
	changes := rules.Diff(old, cfg)
	for _, c := range changes {
		switch c.Kind {
		case "added":
			g.log.Info("configuration key added", "key", c.Key, "value", c.New)
		case "removed":
			g.log.Info("configuration key removed", "key", c.Key, "value", c.Old)
		default:
			g.log.Info("configuration key changed", "key", c.Key, "old", c.Old, "new", c.New)
		}
	}
	g.log.Info("configuration reloaded", "filters", len(chain.Filters()), "changes", len(changes))
}

// restartKeys names the keys whose change a reload cannot apply.
func restartKeys(old, cur *rules.Config) []string {
	var keys []string
	check := func(k string, changed bool) {
		if changed {
			keys = append(keys, k)
		}
	}
	check("listen", old.Listen != cur.Listen)
	check("data_dir", old.DataDir != cur.DataDir)
	check("store", old.Store != cur.Store)
	check("dns.resolver", old.DNS.Resolver != cur.DNS.Resolver)
	check("milter", old.Milter != cur.Milter)
	check("web", old.Web != cur.Web)
	check("metrics", old.Metrics != cur.Metrics)
	check("log", old.Log != cur.Log)
	check("debug", old.Debug != cur.Debug)
	return keys
}

func loadTLS(cfg *rules.Config) (*tls.Config, error) {
	if cfg.TLS.Cert == "" && cfg.TLS.Key == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", cfg.TLS.Cert, cfg.TLS.Key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func loadUsers(cfg *rules.Config) (*proxy.Users, error) {
	if cfg.Auth.UsersFile == "" {
		return nil, nil
	}
	return proxy.LoadUsers(cfg.Auth.UsersFile)
}
