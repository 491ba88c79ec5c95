package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
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
	// Validation refused an empty users_file; the file is read again
	// here because it may have changed since.
	data, err := os.ReadFile(wc.UsersFile)
	if err != nil {
		return nil, fmt.Errorf("web.users_file: %w", err)
	}
	users, err := web.ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("web.users_file: %s: %w", wc.UsersFile, err)
	}
	var tokens func() (classifier.Store, error)
	if cfg.Classifier.Enabled {
		tokens = func() (classifier.Store, error) { return rules.TokenStore(cfg, env.Deps) }
	}
	var links quarantine.LinkKey
	if cfg.Quarantine.Digest.Enabled {
		if links, err = quarantine.LoadLinkKey(cfg.DataPath(linkKeyFile)); err != nil {
			return nil, err
		}
	}
	ui, err := web.New(web.Config{
		Links:         links,
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

// linkKeyFile, in data_dir, holds the key that signs the digests' release
// links.
const linkKeyFile = "digest-link.key"

// digestStamp, in data_dir, holds when the last digests went out.
const digestStamp = "digest.last"

// upkeepInterval is how often the quarantine is expired and due releases
// retried: every 30 seconds, or every quarantine.retry_first when that is
// shorter (at least a second).
func upkeepInterval(retryFirst time.Duration) time.Duration {
	return max(time.Second, min(30*time.Second, retryFirst))
}

type upkeepService struct {
	r      *quarantine.Releaser
	digest *quarantine.Digest
	stamp  string
	every  time.Duration
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

func newUpkeepService(env *serveEnv) (service, error) {
	cfg := env.Config
	u := &upkeepService{r: newReleaser(cfg, env.Quarantine, env.Log), stop: make(chan struct{}), done: make(chan struct{})}
	if dg := cfg.Quarantine.Digest; dg.Enabled {
		key, err := quarantine.LoadLinkKey(cfg.DataPath(linkKeyFile))
		if err != nil {
			return nil, err
		}
		from := dg.From
		if from == "" {
			from = "postmaster@" + cfg.Hostname
		}
		u.digest = &quarantine.Digest{URL: dg.URL, From: from, Hostname: cfg.Hostname, LinkTTL: dg.LinkTTL, Key: key}
		u.stamp, u.every = cfg.DataPath(digestStamp), dg.Every
	}
	return u, nil
}

// sendDigests mails the digests when the last ones are Every old: they
// list what was held since then. The first run only starts the clock.
func (u *upkeepService) sendDigests(ctx context.Context) {
	if u.digest == nil {
		return
	}
	now := time.Now().UTC()
	b, err := os.ReadFile(u.stamp)
	last, perr := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		os.WriteFile(u.stamp, []byte(now.Format(time.RFC3339)+"\n"), 0o640)
		return
	}
	if now.Sub(last) < u.every {
		return
	}
	// Stamped first: a crash must not send the same digest twice.
	if err := os.WriteFile(u.stamp, []byte(now.Format(time.RFC3339)+"\n"), 0o640); err != nil {
		u.r.Log.Warn("quarantine digest", "err", err)
		return
	}
	if _, err := u.digest.Send(ctx, u.r, last); err != nil {
		u.r.Log.Warn("quarantine digest", "err", err)
	}
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
		u.sendDigests(ctx)
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
