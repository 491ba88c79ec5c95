package main

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/emersion/go-smtp"
)

// serveSMTP relays SMTP from listen to backend until it fails.
func serveSMTP(listen, backend string) error {
	s := smtp.NewServer(&relay{addr: backend})
	s.Addr, s.Domain = listen, "floorproxy.test"
	s.AllowInsecureAuth = true
	s.MaxMessageBytes = 64 << 20
	return s.ListenAndServe()
}

// relay hands out backend connections; an idle one is reused, as the
// gateway reuses its own.
type relay struct {
	addr string
	mu   sync.Mutex
	idle []*smtp.Client
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }

// get returns an idle connection, pooled true, or else a new one.
func (r *relay) get() (c *smtp.Client, pooled bool, err error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return c, true, nil
	}
	r.mu.Unlock()
	c, err = r.dial()
	return c, false, err
}

func (r *relay) dial() (*smtp.Client, error) {
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	if err := c.Hello("floorproxy.test"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (r *relay) put(c *smtp.Client) {
	r.mu.Lock()
	r.idle = append(r.idle, c)
	r.mu.Unlock()
}

type session struct {
	r *relay
	c *smtp.Client
}

// Mail takes a backend connection for the transaction and passes the
// sender on; each later command is passed on the same way, and the
// backend's refusal is the client's. A pooled connection the backend has
// closed meanwhile is replaced by a new one.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	pooled := false
	if s.c == nil {
		c, p, err := s.r.get()
		if err != nil {
			return err
		}
		s.c, pooled = c, p
	}
	err := s.fail(s.c.Mail(from, opts))
	if s.c == nil && pooled {
		if s.c, err = s.r.dial(); err != nil {
			return err
		}
		err = s.fail(s.c.Mail(from, opts))
	}
	return err
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.c == nil {
		return errors.New("no transaction")
	}
	return s.fail(s.c.Rcpt(to, opts))
}

func (s *session) Data(r io.Reader) error {
	if s.c == nil {
		return errors.New("no transaction")
	}
	w, err := s.c.Data()
	if err != nil {
		return s.fail(err)
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return s.fail(err)
	}
	if err := w.Close(); err != nil {
		return s.fail(err)
	}
	s.r.put(s.c)
	s.c = nil
	return nil
}

// fail drops a backend connection that broke; one that only refused
// stays with the session.
func (s *session) fail(err error) error {
	var se *smtp.SMTPError
	if err != nil && !errors.As(err, &se) {
		s.c.Close()
		s.c = nil
	}
	return err
}

func (s *session) Reset() {
	if s.c != nil {
		if s.c.Reset() == nil {
			s.r.put(s.c)
		} else {
			s.c.Close()
		}
		s.c = nil
	}
}

func (s *session) Logout() error {
	s.Reset()
	return nil
}
