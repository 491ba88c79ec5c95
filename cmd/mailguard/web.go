package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"mailguard/classifier"
	"mailguard/quarantine"
	"mailguard/rules"
	"mailguard/web"
)

// The review web UI (web.listen) and the quarantine's upkeep: expiring
// entries past retention or over the size cap, and retrying releases the
// backend deferred.

func init() {
	registerService("web.listen", newWebService)
	registerService("quarantine", newUpkeepService)
}

type webService struct {
	srv  *http.Server
	l    net.Listener
	tls  bool
	addr string
}

func newWebService(env *serveEnv) (service, error) {
	cfg := env.Config
	wc := cfg.Web
	if wc.Listen == "" {
		return nil, nil
	}
	if wc.UsersFile == "" {
		return nil, errors.New("web.listen is set but web.users_file is empty: nobody could log in; name a file of user:bcrypt-hash lines")
	}
	data, err := os.ReadFile(wc.UsersFile)
	if err != nil {
		return nil, fmt.Errorf("web.users_file: %w", err)
	}
	users, err := web.ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("web.users_file: %s: %w", wc.UsersFile, err)
	}
	var tokens func() (classifier.Store, error)
	if cfg.Classifier.Enabled && cfg.Store == "" {
		tokens = func() (classifier.Store, error) { return rules.TokenStore(cfg, env.Deps) }
	}
	ui, err := web.New(web.Config{
		Store:         env.Quarantine,
		Releaser:      newReleaser(cfg, env.Quarantine, env.Log),
		Tokens:        tokens,
		LearnBytes:    cfg.Classifier.MaxBytes,
		Users:         users,
		SecureCookies: wc.SecureCookies,
		Log:           env.Log,
	})
	if err != nil {
		return nil, err
	}
	s := &webService{srv: web.NewHTTPServer(ui)}
	if wc.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(wc.TLS.Cert, wc.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("web.tls: load %s and %s: %w", wc.TLS.Cert, wc.TLS.Key, err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	if s.l, err = net.Listen("tcp", wc.Listen); err != nil {
		return nil, fmt.Errorf("web.listen: %w", err)
	}
	s.addr = s.l.Addr().String()
	env.Log.Info("listening", "service", "web", "addr", s.addr, "tls", s.tls, "users", len(users))
	return s, nil
}

func (s *webService) Name() string { return "web" }

func (s *webService) Serve() error {
	var err error
	if s.tls {
		err = s.srv.ServeTLS(s.l, "", "")
	} else {
		err = s.srv.Serve(s.l)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *webService) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// upkeepInterval is how often the quarantine is expired and due releases
// retried: every 30 seconds, or every quarantine.retry_first when that is
// shorter (at least a second).
func upkeepInterval(retryFirst time.Duration) time.Duration {
	return max(time.Second, min(30*time.Second, retryFirst))
}

type upkeepService struct {
	r    *quarantine.Releaser
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

func newUpkeepService(env *serveEnv) (service, error) {
	return &upkeepService{r: newReleaser(env.Config, env.Quarantine, env.Log), stop: make(chan struct{}), done: make(chan struct{})}, nil
}

func (u *upkeepService) Name() string { return "quarantine upkeep" }

func (u *upkeepService) Serve() error {
	defer close(u.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-u.stop; cancel() }()
	t := time.NewTicker(upkeepInterval(u.r.RetryFirst))
	defer t.Stop()
	for {
		if _, err := u.r.Expire(ctx); err != nil && ctx.Err() == nil {
			u.r.Log.Warn("quarantine expiry", "err", err)
		}
		if _, err := u.r.RetryDue(ctx); err != nil && ctx.Err() == nil {
			u.r.Log.Warn("quarantine release retries", "err", err)
		}
		select {
		case <-u.stop:
			return nil
		case <-t.C:
		}
	}
}

func (u *upkeepService) Shutdown(ctx context.Context) error {
	u.once.Do(func() { close(u.stop) })
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
