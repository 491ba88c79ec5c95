// Package smtptest runs a real go-smtp server on 127.0.0.1 that stands in
// for the backend MTA in tests: it records every message it accepted
// (envelope and exact bytes) and can be told to refuse recipients, MAIL or
// DATA, to answer slowly, to offer SMTPUTF8 or not, or to go away.
package smtptest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailguard/filters"
)

// Options shape the server at start.
type Options struct {
	// SMTPUTF8 offers the SMTPUTF8 extension.
	SMTPUTF8 bool
	// Discard counts messages without keeping their bytes (benchmarks).
	Discard bool
	// Hostname is the name in the banner (default "backend.test").
	Hostname string
	// IdleTimeout closes a connection silent that long (default 1 minute),
	// as MTAs do.
	IdleTimeout time.Duration
	// RefuseRepeatedHelo answers a second EHLO or HELO on a connection
	// with "503 5.5.1 Duplicate HELO/EHLO", as Python's smtpd does.
	RefuseRepeatedHelo bool
}

// Message is one message the server accepted, as it arrived.
type Message struct {
	Helo     string
	From     string
	Rcpts    []string
	SMTPUTF8 bool
	Body     string // BODY= parameter
	Size     int64  // SIZE= parameter
	// Data is the message exactly as received, dot-unstuffed, line ends
	// as sent.
	Data []byte
}

// Server is the recording backend.
type Server struct {
	// Addr is host:port to dial.
	Addr string

	srv *smtp.Server
	l   net.Listener

	mu        sync.Mutex
	msgs      []Message
	count     int
	rcptReply map[string]filters.Reply
	mailReply filters.Reply
	dataReply filters.Reply
	delay     time.Duration
	conns     int
	stopped   bool
	changed   chan struct{}
	discard   bool
	// raw is every byte each connection sent, in order.
	raw []*rawConn
}

// Start runs a server until the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

// New runs a server; the caller stops it.
func New(opts Options) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{Addr: l.Addr().String(), l: l, rcptReply: map[string]filters.Reply{}, changed: make(chan struct{}), discard: opts.Discard}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = opts.Hostname
	if srv.Domain == "" {
		srv.Domain = "backend.test"
	}
	srv.EnableSMTPUTF8 = opts.SMTPUTF8
	srv.MaxLineLength = 0
	srv.ReadTimeout = opts.IdleTimeout
	if srv.ReadTimeout <= 0 {
		srv.ReadTimeout = time.Minute
	}
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = nopLogger{}
	s.srv = srv
	go srv.Serve(&recordingListener{Listener: l, s: s, refuseHelo: opts.RefuseRepeatedHelo})
	return s, nil
}

// RefuseRcpt makes RCPT TO:<addr> answer r (a 4xx or 5xx).
func (s *Server) RefuseRcpt(addr string, r filters.Reply) {
	s.mu.Lock()
	s.rcptReply[strings.ToLower(addr)] = r
	s.mu.Unlock()
}

// RefuseMail makes every MAIL FROM answer r; a zero Reply accepts again.
func (s *Server) RefuseMail(r filters.Reply) { s.mu.Lock(); s.mailReply = r; s.mu.Unlock() }

// RefuseData makes the reply to every final dot r; a zero Reply accepts
// again.
func (s *Server) RefuseData(r filters.Reply) { s.mu.Lock(); s.dataReply = r; s.mu.Unlock() }

// SetDelay makes every command's reply wait d.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Stop closes the listener and every connection: the backend is down.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	// Serve may not have taken the listener yet; close it here too.
	s.l.Close()
	s.srv.Close()
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count returns how many messages were accepted.
func (s *Server) Count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.count }

// Connections returns how many sessions (EHLO/HELO) the server has seen.
func (s *Server) Connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

// Wait waits until n messages were accepted or d passed, and returns them.
func (s *Server) Wait(n int, d time.Duration) []Message {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		if s.count >= n {
			m := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return m
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return s.Messages()
		}
	}
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &session{s: s, helo: c.Hostname()}, nil
}

func (s *Server) wait() {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

type session struct {
	s    *Server
	helo string
	msg  *Message
}

func smtpErr(r filters.Reply) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: r.Code, Message: r.Text, EnhancedCode: smtp.EnhancedCodeNotSet}
	if p, ok := r.EnhancedParts(); ok {
		e.EnhancedCode = smtp.EnhancedCode(p)
	}
	return e
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.s.wait()
	ss.s.mu.Lock()
	r := ss.s.mailReply
	ss.s.mu.Unlock()
	if !r.IsZero() {
		return smtpErr(r)
	}
	ss.msg = &Message{Helo: ss.helo, From: from}
	if opts != nil {
		ss.msg.SMTPUTF8, ss.msg.Body, ss.msg.Size = opts.UTF8, string(opts.Body), opts.Size
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.wait()
	ss.s.mu.Lock()
	r, ok := ss.s.rcptReply[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if ok {
		return smtpErr(r)
	}
	ss.msg.Rcpts = append(ss.msg.Rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	var err error
	if ss.s.discard {
		_, err = io.Copy(io.Discard, r)
	} else {
		_, err = io.Copy(&buf, r)
	}
	if err != nil {
		return err
	}
	ss.s.wait()
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if !ss.s.dataReply.IsZero() {
		return smtpErr(ss.s.dataReply)
	}
	m := *ss.msg
	if !ss.s.discard {
		m.Data = buf.Bytes()
		ss.s.msgs = append(ss.s.msgs, m)
	}
	ss.s.count++
	close(ss.s.changed)
	ss.s.changed = make(chan struct{})
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: fmt.Sprintf("Ok: queued as B%d", ss.s.count)}
}

func (ss *session) Reset()        { ss.msg = nil }
func (ss *session) Logout() error { return nil }

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
