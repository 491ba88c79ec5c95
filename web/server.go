// Package web is the quarantine review UI: reviewers (or recipients, for
// their own mail) log in, search and sort what was held, read a message
// safely (its HTML only in a sandboxed frame that may run no script and
// load nothing remote), and release it as not spam or delete it as spam,
// which the classifier learns. It is plain net/http and html/template with
// embedded assets and no script at all: every action is a form POST
// carrying a CSRF token.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"mailguard/classifier"
	"mailguard/quarantine"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Config is what the UI works on.
type Config struct {
	Store    quarantine.Store
	Releaser *quarantine.Releaser
	// Tokens opens the token store that "Not spam" and "Spam" teach; nil
	// turns learning off (the buttons then only release or delete).
	Tokens func() (classifier.Store, error)
	// LearnBytes is how much of a message the classifier reads
	// (classifier.max_bytes).
	LearnBytes int64
	Users      Users
	// Links checks the signed release links of digests; nil turns them
	// off.
	Links quarantine.LinkKey
	// SecureCookies marks cookies Secure even on plain HTTP, for a
	// TLS-terminating proxy in front; over TLS they always are.
	SecureCookies bool
	Log           *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Limits of the UI.
const (
	sessionTTL  = 12 * time.Hour
	pageSize    = 50
	maxFailures = 5                // failed logins allowed per client IP and per user name ...
	failWindow  = 15 * time.Minute // ... within this time
	maxView     = 32 << 20         // message bytes read to show one
	cookieName  = "mailguard_session"
	preCookie   = "mailguard_login"
)

// Server is the UI's http.Handler.
type Server struct {
	cfg  Config
	tmpl map[string]*template.Template
	mux  *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session
	failures map[string][]time.Time
}

type session struct {
	user    User
	csrf    string
	expires time.Time
}

// New returns the UI. It fails only on a broken template.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LearnBytes <= 0 {
		cfg.LearnBytes = maxView
	}
	s := &Server{cfg: cfg, tmpl: map[string]*template.Template{}, sessions: map[string]*session{}, failures: map[string][]time.Time{}}
	funcs := template.FuncMap{
		"points":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"prob":    func(f float64) string { return fmt.Sprintf("%.3f", f) },
		"percent": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"sender": func(s string) string {
			if s == "" {
				return "<>"
			}
			return s
		},
		"join": strings.Join,
	}
	pages, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		s.tmpl[name] = t
	}
	static, _ := fs.Sub(assets, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.auth(s.logout))
	mux.HandleFunc("GET /{$}", s.auth(s.list))
	mux.HandleFunc("POST /bulk", s.auth(s.bulk))
	mux.HandleFunc("GET /m/{id}", s.auth(s.view))
	mux.HandleFunc("GET /m/{id}/html", s.auth(s.htmlPart))
	mux.HandleFunc("POST /m/{id}/{action}", s.auth(s.act))
	mux.HandleFunc("GET /stats", s.auth(s.stats))
	mux.HandleFunc("GET /r/{id}", s.link)
	mux.HandleFunc("POST /r/{id}", s.link)
	s.mux = mux
	return s, nil
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// pageCSP is every page's policy but the message frame's: nothing but this
// origin's stylesheet and frames, no script at all.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
}

// sessionOf returns the request's live session.
func (s *Server) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[c.Value]
	if ss == nil {
		return nil
	}
	if s.cfg.Now().After(ss.expires) {
		delete(s.sessions, c.Value)
		return nil
	}
	return ss
}

type ctxKey struct{}

// auth lets logged-in users through (and, for a POST, only with the
// session's CSRF token); others are sent to the login page.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := s.sessionOf(r)
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.fail(w, r, http.StatusForbidden, "Your session has ended: log in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			tok := r.PostFormValue("csrf")
			if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(ss.csrf)) != 1 {
				s.cfg.Log.Warn("web: POST without a valid CSRF token", "user", ss.user.Name, "path", r.URL.Path, "client", clientIP(r))
				s.fail(w, r, http.StatusForbidden, "This form is out of date or did not come from this site (missing security token). Reload the page and try again.")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ss)))
	}
}

func current(r *http.Request) *session { ss, _ := r.Context().Value(ctxKey{}).(*session); return ss }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited reports whether key had maxFailures failed logins within
// failWindow, pruning older ones.
func (s *Server) limited(key string) bool {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []time.Time
	for _, t := range s.failures[key] {
		if now.Sub(t) < failWindow {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(s.failures, key)
	} else {
		s.failures[key] = keep
	}
	return len(keep) >= maxFailures
}

// maxTracked bounds the failure records and sessions kept: past it, stale
// ones are swept, so guessing many names cannot grow memory without end.
const maxTracked = 10000

func (s *Server) failed(keys ...string) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > maxTracked {
		for k, ts := range s.failures {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= failWindow {
				delete(s.failures, k)
			}
		}
	}
	for _, k := range keys {
		s.failures[k] = append(s.failures[k], now)
	}
}

type loginData struct {
	page
	Error string
	User  string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.sessionOf(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

// showLogin renders the login form with a fresh login CSRF token, given
// both in a cookie and in the form (a cross-site form cannot read it).
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, msg, user string) {
	tok := randomToken()
	s.setCookie(w, r, preCookie, tok, 600)
	s.render(w, r, status, "login", loginData{page: page{Title: "Log in", CSRF: tok}, Error: msg, User: user})
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(preCookie)
	tok := r.PostFormValue("csrf")
	if err != nil || tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.Value)) != 1 {
		s.showLogin(w, r, http.StatusForbidden, "The login form was out of date (missing security token). Please try again.", "")
		return
	}
	name, pass := r.PostFormValue("user"), r.PostFormValue("password")
	ip := clientIP(r)
	if s.limited("ip:"+ip) || s.limited("user:"+name) {
		s.cfg.Log.Warn("web: login refused, too many failures", "user", name, "client", ip)
		s.showLogin(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins. Wait %d minutes and try again.", int(failWindow.Minutes())), name)
		return
	}
	u, ok := s.cfg.Users[name]
	hash := u.Hash
	if !ok {
		hash = dummyHash // the same work, so timing does not tell which names exist
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !ok {
		s.failed("ip:"+ip, "user:"+name)
		s.cfg.Log.Warn("web: login failed", "user", name, "client", ip)
		s.showLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.", name)
		return
	}
	sid := randomToken()
	s.mu.Lock()
	if len(s.sessions) > maxTracked {
		for k, ss := range s.sessions {
			if s.cfg.Now().After(ss.expires) {
				delete(s.sessions, k)
			}
		}
	}
	s.sessions[sid] = &session{user: u, csrf: randomToken(), expires: s.cfg.Now().Add(sessionTTL)}
	s.mu.Unlock()
	s.setCookie(w, r, preCookie, "", -1)
	s.setCookie(w, r, cookieName, sid, int(sessionTTL.Seconds()))
	s.cfg.Log.Info("web: login", "user", name, "client", ip)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	s.setCookie(w, r, cookieName, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// page is what the layout needs.
type page struct {
	Title  string
	User   string
	CSRF   string
	Nav    string
	Notice string
}

func (s *Server) pageFor(r *http.Request, title, nav string) page {
	ss := current(r)
	p := page{Title: title, Nav: nav, Notice: r.URL.Query().Get("notice")}
	if ss != nil {
		p.User, p.CSRF = ss.user.Name, ss.csrf
	}
	return p
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t := s.tmpl[name]
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		s.cfg.Log.Error("web: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

type errorData struct {
	page
	Message string
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := s.pageFor(r, http.StatusText(status), "")
	s.render(w, r, status, "error", errorData{page: p, Message: msg})
}

// NewHTTPServer wraps h in an http.Server with timeouts fit for a UI.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}
