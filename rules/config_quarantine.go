package rules

import (
	"net/url"
	"strings"
	"time"

	"mailguard/quarantine"
	"mailguard/web"
)

// QuarantineConfig is the "quarantine" section: how long held mail is kept
// and how releases are retried.
type QuarantineConfig struct {
	// Retention is how long a held message is kept; a release still
	// undelivered then is given up.
	Retention time.Duration `yaml:"retention"`
	// MaxBytes caps the held messages' total size; over it the oldest
	// are removed.
	MaxBytes int64 `yaml:"max_bytes"`
	// RetryFirst is the wait after a release's first temporary failure,
	// doubled after each up to RetryMax.
	RetryFirst time.Duration `yaml:"retry_first"`
	RetryMax   time.Duration `yaml:"retry_max"`
	// Digest mails each recipient a list of what was held for them.
	Digest DigestConfig `yaml:"digest"`
}

// DigestConfig is "quarantine.digest".
type DigestConfig struct {
	Enabled bool `yaml:"enabled"`
	// URL is the review UI (web.listen) as recipients reach it; release
	// links point there.
	URL string `yaml:"url"`
	// From is the digest's From field; empty: postmaster@hostname.
	From string `yaml:"from"`
	// Every is the time between digests; LinkTTL how long a link works.
	Every   time.Duration `yaml:"every"`
	LinkTTL time.Duration `yaml:"link_ttl"`
}

// WebConfig is the "web" section: the quarantine review UI.
type WebConfig struct {
	// Listen is host:port; empty: off.
	Listen string `yaml:"listen"`
	// UsersFile has a login a line: user:bcrypt-hash (a reviewer), or
	// user:bcrypt-hash:addr,@domain (a recipient seeing only their mail).
	UsersFile string `yaml:"users_file"`
	// TLS serves HTTPS when both are set; cookies are then Secure.
	TLS TLSConfig `yaml:"tls"`
	// SecureCookies marks cookies Secure without TLS here, for a
	// TLS-terminating proxy in front.
	SecureCookies bool `yaml:"secure_cookies"`
}

func init() {
	registerDefaults(func(c *Config) {
		c.Quarantine = QuarantineConfig{
			Retention:  quarantine.DefaultRetention,
			MaxBytes:   quarantine.DefaultMaxBytes,
			RetryFirst: quarantine.DefaultRetryFirst,
			RetryMax:   quarantine.DefaultRetryMax,
			Digest:     DigestConfig{Every: 24 * time.Hour, LinkTTL: 72 * time.Hour},
		}
	})
	registerValidator(validateQuarantine)
}

func validateQuarantine(c *Config, v *validator) {
	q := c.Quarantine
	if q.Retention < time.Hour {
		v.Errorf("quarantine.retention", "must be at least 1h, got %v", q.Retention)
	}
	if q.MaxBytes < c.MaxMessageBytes {
		v.Errorf("quarantine.max_bytes", "must hold at least one message of max_message_bytes (%d), got %d", c.MaxMessageBytes, q.MaxBytes)
	}
	checkDuration(v, "quarantine.retry_first", q.RetryFirst, 24*time.Hour)
	checkDuration(v, "quarantine.retry_max", q.RetryMax, 7*24*time.Hour)
	if q.RetryMax < q.RetryFirst {
		v.Errorf("quarantine.retry_max", "must be at least retry_first (%v), got %v", q.RetryFirst, q.RetryMax)
	}
	if dg := q.Digest; dg.Enabled {
		if u, err := url.Parse(dg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf("quarantine.digest.url", "must be the review UI's address as recipients reach it, http(s)://host[:port], got %q", dg.URL)
		}
		if c.Web.Listen == "" {
			v.Errorf("quarantine.digest.enabled", "release links need the review UI: set web.listen")
		}
		if dg.From != "" && !strings.Contains(dg.From, "@") {
			v.Errorf("quarantine.digest.from", "must be an address, got %q", dg.From)
		}
		checkDuration(v, "quarantine.digest.every", dg.Every, 0)
		checkDuration(v, "quarantine.digest.link_ttl", dg.LinkTTL, 0)
		if dg.Every > 0 && dg.Every < time.Minute {
			v.Errorf("quarantine.digest.every", "must be at least 1m, got %v", dg.Every)
		}
	}
	w := c.Web
	if w.Listen == "" {
		return
	}
	// Without users nobody could log in: refused here, so check-config
	// says what serve would.
	if w.UsersFile == "" {
		v.Errorf("web.users_file", "web.listen is set but web.users_file is empty: nobody could log in; name a file of user:bcrypt-hash lines")
	} else {
		if data, err := readListFile(w.UsersFile); err != nil {
			v.Errorf("web.users_file", "%v", err)
		} else if _, err := web.ParseUsers(data); err != nil {
			v.Errorf("web.users_file", "%s: %v", w.UsersFile, err)
		}
	}
	if (w.TLS.Cert == "") != (w.TLS.Key == "") {
		v.Errorf("web.tls", "set both cert and key, or neither")
	}
}
