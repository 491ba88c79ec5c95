// Package dnstest runs a real DNS server on 127.0.0.1 for tests: UDP and TCP
// on one port, authoritative answers from RFC 1035 master-file text, and
// knobs for the failures a resolver must survive (SERVFAIL, silence,
// truncation). It never forwards a question anywhere.
//
// The server answers every name in the zone text it was given as the
// authority for it: NXDOMAIN when the name (and every name below it) is
// absent, NODATA (NOERROR, empty answer) when the name exists without the
// asked type, in both cases with the closest enclosing SOA in the authority
// section so negative answers can be cached (RFC 2308). CNAMEs are followed
// within the zone text.
package dnstest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a running DNS server. Its methods are safe for concurrent use.
type Server struct {
	udp, tcp *dns.Server
	addr     string

	mu        sync.Mutex
	zone      *zoneData
	servfail  map[string]bool
	refused   map[string]bool
	silent    map[string]bool
	allSilent bool
	truncate  bool
	noEDNS    bool
	delay     time.Duration
	counts    map[qkey]int
	total     int
}

type qkey struct {
	name  string
	qtype uint16
}

// Start starts a server answering from zone and stops it when the test
// ends. A zone that does not parse fails the test.
func Start(t testing.TB, zone string) *Server {
	t.Helper()
	s, err := New(zone)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartFile is Start with the zone text read from files (testdata/...),
// one after the other: a part several servers share, then each one's own.
func StartFile(t testing.TB, paths ...string) *Server {
	t.Helper()
	var zone []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		zone = append(zone, b...)
	}
	return Start(t, string(zone))
}

// New starts a server answering from zone, for TestMain and programs that
// have no testing.TB; the caller must Close it.
func New(zone string) (*Server, error) {
	z, err := parseZone(zone)
	if err != nil {
		return nil, err
	}
	s := &Server{
		zone:     z,
		servfail: map[string]bool{},
		refused:  map[string]bool{},
		silent:   map[string]bool{},
		counts:   map[qkey]int{},
	}
	pc, l, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: l, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
	}
	return s, nil
}

// listenPair opens UDP and TCP sockets on the same free port of 127.0.0.1.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("dnstest: no port free for both udp and tcp: %w", lastErr)
}

// Addr is the server's address, "127.0.0.1:PORT", for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// SetZone replaces the zone text at run time.
func (s *Server) SetZone(zone string) error {
	z, err := parseZone(zone)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.zone = z
	s.mu.Unlock()
	return nil
}

// AddRR adds records, given as master-file lines with fully qualified names
// (or relative to an $ORIGIN line in the same text).
func (s *Server) AddRR(text string) error {
	add, err := parseZone(text)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zone.clone()
	for _, rrs := range add.rrs {
		for _, rr := range rrs {
			z.add(rr)
		}
	}
	s.zone = z
	return nil
}

// ServFail makes questions for name (any type) answer SERVFAIL, or answer
// normally again when on is false.
func (s *Server) ServFail(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	setFlag(s.servfail, name, on)
}

// Refuse makes questions for name (any type) answer REFUSED, as a server
// that will not answer for a zone does, or answer normally again when on
// is false.
func (s *Server) Refuse(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	setFlag(s.refused, name, on)
}

// Silence makes questions for name (any type) go unanswered, as a dead or
// firewalled server would, or answered again when on is false.
func (s *Server) Silence(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	setFlag(s.silent, name, on)
}

// SilenceAll makes the whole server stop answering (or answer again).
func (s *Server) SilenceAll(on bool) {
	s.mu.Lock()
	s.allSilent = on
	s.mu.Unlock()
}

// TruncateUDP makes every UDP answer come back empty with the TC bit set, so
// the client has to ask again over TCP. Answers too large for the client's
// UDP size are truncated whatever this says.
func (s *Server) TruncateUDP(on bool) {
	s.mu.Lock()
	s.truncate = on
	s.mu.Unlock()
}

// RejectEDNS makes the server answer FORMERR to questions carrying an
// EDNS0 OPT record, as some old servers and middleboxes do.
func (s *Server) RejectEDNS(on bool) {
	s.mu.Lock()
	s.noEDNS = on
	s.mu.Unlock()
}

// SetDelay makes every answer wait d before it is sent.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Queries returns how many questions for name and qtype reached the server
// (over UDP and TCP, answered or not); qtype dns.TypeANY counts every type.
func (s *Server) Queries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = canonical(name)
	if qtype == dns.TypeANY {
		n := 0
		for k, c := range s.counts {
			if k.name == name {
				n += c
			}
		}
		return n
	}
	return s.counts[qkey{name, qtype}]
}

// TotalQueries returns how many questions reached the server.
func (s *Server) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCounts sets the query counts back to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.counts = map[qkey]int{}
	s.total = 0
	s.mu.Unlock()
}

func setFlag(m map[string]bool, name string, on bool) {
	if on {
		m[canonical(name)] = true
	} else {
		delete(m, canonical(name))
	}
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)
	_, isUDP := w.RemoteAddr().(*net.UDPAddr)

	s.mu.Lock()
	s.counts[qkey{name, q.Qtype}]++
	s.total++
	silent := s.allSilent || s.silent[name]
	servfail := s.servfail[name]
	refused := s.refused[name]
	truncate := s.truncate && isUDP
	formerr := s.noEDNS && req.IsEdns0() != nil
	delay := s.delay
	z := s.zone
	s.mu.Unlock()

	if silent {
		return
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = false
	if formerr {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	switch {
	case servfail:
		m.Rcode = dns.RcodeServerFailure
	case refused:
		m.Rcode = dns.RcodeRefused
	case truncate:
		m.Authoritative = true
		m.Truncated = true
	default:
		m.Authoritative = true
		z.answer(m, q)
		if isUDP {
			size := dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
				size = int(opt.UDPSize())
			}
			m.Truncate(size)
		}
	}
	w.WriteMsg(m)
}
