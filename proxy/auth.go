package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"mailguard/filters"
)

// Users are the accounts that may authenticate (SMTP AUTH) and then relay.
type Users struct {
	hashes map[string][]byte
}

// LoadUsers reads a users file: one "user:bcrypt-hash" a line; blank lines
// and lines starting with # are skipped. Every bad line is reported with its
// number.
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	u := &Users{hashes: map[string][]byte{}}
	var problems []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			problems = append(problems, fmt.Sprintf("%s:%d: want user:bcrypt-hash", path, n))
			continue
		case u.hashes[user] != nil:
			problems = append(problems, fmt.Sprintf("%s:%d: user %q listed twice", path, n, user))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: user %q: not a bcrypt hash: %v", path, n, user, err))
			continue
		}
		u.hashes[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return u, nil
}

// dummyHash is compared against when the user is unknown, so a wrong user
// name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)

// Check reports whether password is user's.
func (u *Users) Check(user, password string) bool {
	h, ok := u.hashes[user]
	if !ok {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(h, []byte(password)) == nil
}

var errEncryptionRequired = smtpError(filters.ReplyEncryptionRequired)

// AuthMechanisms is asked by go-smtp on every EHLO (never on HELO).
func (s *session) AuthMechanisms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cc.fc.ESMTP = true
	if !s.cc.fc.TLS || s.cc.p.users.Load() == nil || s.cc.fc.AuthUser != "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth authenticates the client; only under TLS, as the SPEC says.
func (s *session) Auth(mech string) (sasl.Server, error) {
	users := s.cc.p.users.Load()
	switch {
	case users == nil:
		return nil, errAuthUnsupported
	case !s.cc.fc.TLS:
		return nil, errEncryptionRequired
	case s.cc.authFailuresOver(s.ctx()):
		return nil, s.cc.endWith("AUTH", filters.ReplyAuthFailureRate, "auth_failure_rate")
	}
	check := func(user, pass string) error {
		if !users.Check(user, pass) {
			s.cc.authFailed(s.ctx())
			s.cc.stats.refused.Add(1)
			s.cc.fc.Log.Warn("authentication failed", "mechanism", mech, "user", user)
			return errAuthFailed
		}
		s.cc.fc.AuthUser = user
		s.cc.fc.Log.Info("authenticated", "mechanism", mech, "user", user)
		return nil
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return replyErrors{sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return errAuthFailed
			}
			return check(user, pass)
		})}, nil
	case sasl.Login:
		return replyErrors{&loginServer{check: check}}, nil
	}
	return nil, errAuthUnknownMech
}

// replyErrors keeps go-sasl's own error texts ("sasl: ...") from reaching
// the client: go-smtp would send them verbatim.
type replyErrors struct{ sasl.Server }

var (
	errBadAuthData     = smtpError(filters.ReplyBadAuthData)
	errAuthFailed      = smtpError(filters.ReplyAuthFailed)
	errAuthUnsupported = smtpError(filters.ReplyAuthUnsupported)
	errAuthUnknownMech = smtpError(filters.ReplyAuthUnknownMech)
)

func (r replyErrors) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := r.Server.Next(response)
	var se *smtp.SMTPError
	if err != nil && !errors.As(err, &se) {
		err = errBadAuthData
	}
	return challenge, done, err
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl offers only as a client.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil {
			// An initial response carries the user name.
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.user, string(bytes.TrimRight(response, "\x00")))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}
