package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"

	"mailguard/classifier/boltstore"
	"mailguard/classifier/redisstore"
	"mailguard/metrics"
	"mailguard/rules"
)

func init() { registerService("metrics.listen", newMetricsService) }

// metricsService serves /metrics, /healthz and /readyz on metrics.listen.
type metricsService struct{ srv *metrics.Server }

func (m *metricsService) Name() string                       { return "metrics" }
func (m *metricsService) Serve() error                       { return m.srv.Serve() }
func (m *metricsService) Shutdown(ctx context.Context) error { return m.srv.Shutdown(ctx) }

func newMetricsService(env *serveEnv) (service, error) {
	cfg := env.Config
	if cfg.Metrics.Listen == "" {
		return nil, nil
	}
	var list func(context.Context) ([]metrics.HeldEntry, error)
	if q := env.Quarantine; q != nil {
		list = func(ctx context.Context) ([]metrics.HeldEntry, error) {
			es, err := q.List(ctx)
			out := make([]metrics.HeldEntry, len(es))
			for i, e := range es {
				out[i] = metrics.HeldEntry{Time: e.Time, Size: e.Size}
			}
			return out, err
		}
	}
	if err := metrics.RegisterStores(list, filepath.Join(cfg.DataDir, "spool")); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if cfg.Classifier.Enabled && cfg.Store == "" {
		if err := metrics.RegisterTokenStore(tokenStats(cfg.DataPath(boltstore.FileName))); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	if cfg.Classifier.Enabled && cfg.Store != "" {
		if err := metrics.RegisterTokenStore(redisTokenStats(cfg, env.Deps)); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	checks := []metrics.Check{
		{Name: "smtp listener", Run: func(context.Context) error {
			if !env.Serving() {
				return errors.New("not accepting connections")
			}
			return nil
		}},
		// A connection alone: the backend's own log gets no session for
		// every probe.
		{Name: "backend " + cfg.Backend, Run: func(ctx context.Context) error { return dialClose(ctx, cfg.Backend) }},
	}
	if q := env.Quarantine; q != nil {
		checks = append(checks, metrics.Check{Name: "quarantine store", Run: func(ctx context.Context) error {
			_, err := q.List(ctx)
			return err
		}})
	}
	srv, err := metrics.Listen(cfg.Metrics.Listen, checks)
	if err != nil {
		return nil, err
	}
	env.Log.Info("listening", "service", "metrics", "addr", srv.Addr().String())
	return &metricsService{srv: srv}, nil
}

func dialClose(ctx context.Context, addr string) error {
	if addr == "" {
		return errors.New("no address")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// redisTokenStats reads the shared token store's figures through the
// process's client (the classifier's).
func redisTokenStats(cfg *rules.Config, deps *rules.Deps) func(ctx context.Context) (metrics.TokenStats, error) {
	return func(ctx context.Context) (metrics.TokenStats, error) {
		st, err := rules.TokenStore(cfg, deps)
		if err != nil {
			return metrics.TokenStats{}, err
		}
		rs, ok := st.(*redisstore.Store)
		if !ok {
			return metrics.TokenStats{}, fmt.Errorf("token store is a %T", st)
		}
		n, err := rs.Tokens(ctx)
		if err != nil {
			return metrics.TokenStats{}, err
		}
		tot, err := rs.Totals(ctx)
		return metrics.TokenStats{Tokens: int(n), Spam: tot.Spam, Ham: tot.Ham}, err
	}
}

// tokenStats reads the embedded token store's figures, opening the file
// read-only for the scrape as the gateway does for each message; a store
// not written yet reads as empty.
func tokenStats(path string) func(ctx context.Context) (metrics.TokenStats, error) {
	return func(ctx context.Context) (metrics.TokenStats, error) {
		st, err := boltstore.Open(boltstore.Config{Path: path, ReadOnly: true, LockTimeout: boltstore.DefaultSharedLockTimeout})
		if errors.Is(err, fs.ErrNotExist) {
			return metrics.TokenStats{}, nil
		}
		if err != nil {
			return metrics.TokenStats{}, err
		}
		defer st.Close()
		n, err := st.Tokens()
		if err != nil {
			return metrics.TokenStats{}, err
		}
		tot, err := st.Totals(ctx)
		return metrics.TokenStats{Tokens: n, Spam: tot.Spam, Ham: tot.Ham}, err
	}
}
