package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Config configures New.
type Config struct {
	// Server is the recursive resolver to ask, host:port (a bare host gets
	// port 53); several may be given separated by commas. "" reads the
	// nameserver lines of /etc/resolv.conf.
	Server string
	// Timeout bounds one Lookup, retry included (default 2s). A caller's
	// context deadline bounds it further.
	Timeout time.Duration
	// CacheSize is how many answers the cache keeps (default 10000);
	// negative disables the cache.
	CacheSize int
	// Now is the clock of the cache (default time.Now); tests move it to
	// expire answers without sleeping.
	Now func() time.Time
	// Log receives a line for each temporary failure (default
	// slog.Default()).
	Log *slog.Logger
}

const (
	DefaultTimeout   = 2 * time.Second
	defaultCacheSize = 10000
	// udpSize is the EDNS0 buffer size of the DNS flag day 2020: large
	// enough for most answers, small enough to avoid IP fragmentation.
	udpSize = 1232
	// maxCNAMEs bounds a chain of aliases.
	maxCNAMEs  = 8
	resolvConf = "/etc/resolv.conf"
)

// client asks recursive servers over the network, without a cache.
type client struct {
	servers []string
	timeout time.Duration
	udp     *dns.Client
	tcp     *dns.Client
	log     *slog.Logger
}

// New returns a caching Resolver asking the configured servers.
func New(cfg Config) (Resolver, error) {
	servers, err := serverList(cfg.Server)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &client{
		servers: servers,
		timeout: cfg.Timeout,
		udp:     &dns.Client{Net: "udp", UDPSize: udpSize},
		tcp:     &dns.Client{Net: "tcp"},
		log:     cfg.Log,
	}
	if cfg.CacheSize < 0 {
		return c, nil
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = defaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return newCache(c, cfg.CacheSize, cfg.Now)
}

func serverList(s string) ([]string, error) {
	var hosts []string
	if strings.TrimSpace(s) == "" {
		cc, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil || len(cc.Servers) == 0 {
			// As the Go standard library does without a resolv.conf.
			return []string{"127.0.0.1:53", "[::1]:53"}, nil
		}
		for _, h := range cc.Servers {
			hosts = append(hosts, net.JoinHostPort(h, cc.Port))
		}
		return hosts, nil
	}
	for _, h := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "53")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("resolver: bad server address %q: %w", h, err)
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// Lookup asks the servers and follows CNAMEs the answer leaves unresolved.
func (c *client) Lookup(ctx context.Context, name string, qtype uint16) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.lookup(ctx, name, qtype)
}

func (c *client) lookup(ctx context.Context, name string, qtype uint16) (Result, error) {
	name, err := checkName(name)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for i := range maxCNAMEs {
		m, err := c.exchange(ctx, name, qtype)
		if err != nil {
			return Result{}, err
		}
		part := fromMsg(m, name, qtype)
		res.CNAMEs = append(res.CNAMEs, part.CNAMEs...)
		res.Records, res.NXDomain, res.Authority, res.Authoritative = part.Records, part.NXDomain, part.Authority, part.Authoritative
		if i == 0 || part.TTL < res.TTL {
			res.TTL = part.TTL
		}
		if len(part.Records) > 0 || part.NXDomain || len(part.CNAMEs) == 0 || hasNegative(m) {
			return res, nil
		}
		// The answer ended on an alias the server did not resolve (an
		// authoritative server's out-of-zone target): ask for the target.
		name = part.CNAMEs[len(part.CNAMEs)-1]
	}
	return Result{}, fmt.Errorf("resolve %s: CNAME chain longer than %d: %w", name, maxCNAMEs, ErrTemporary)
}

// hasNegative reports whether the server vouched that the end of the chain
// has no record (an SOA in the authority section).
func hasNegative(m *dns.Msg) bool {
	for _, rr := range m.Ns {
		if _, ok := rr.(*dns.SOA); ok {
			return true
		}
	}
	return false
}

// exchange asks the question, trying the next server (or the same one
// again) once after a failure, each try over UDP with TCP on truncation.
func (c *client) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(udpSize, false)
	tries := 2
	var lastErr error
	for i := range tries {
		server := c.servers[i%len(c.servers)]
		tctx := ctx
		if i < tries-1 {
			// The first try gets half of the time left, so a silent
			// server leaves time for the retry.
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				tctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
				defer cancel()
			}
		}
		m, err := ask(tctx, c.udp, c.tcp, q, server)
		if err == nil {
			switch m.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return m, nil
			}
			err = fmt.Errorf("%s from %s", dns.RcodeToString[m.Rcode], server)
		}
		lastErr = err
		c.log.Debug("dns query failed", "name", name, "type", dns.TypeToString[qtype], "server", server, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("resolve %s %s: %w: %w", name, dns.TypeToString[qtype], lastErr, ErrTemporary)
}

// ask sends q to server once: over UDP, again over TCP when the answer was
// truncated.
func ask(ctx context.Context, udp, tcp *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, _, err := udp.ExchangeContext(ctx, q, server)
	if err == nil && m.Rcode == dns.RcodeFormatError && q.IsEdns0() != nil {
		// A server that does not know EDNS0 (RFC 6891 section 7): ask
		// again without it.
		plain := q.Copy()
		plain.Extra = nil
		q = plain
		m, _, err = udp.ExchangeContext(ctx, q, server)
	}
	if err == nil && m.Truncated {
		m, _, err = tcp.ExchangeContext(ctx, q, server)
	}
	if err != nil {
		return nil, err
	}
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, q.Question[0].Name) || m.Question[0].Qtype != q.Question[0].Qtype {
		return nil, errors.New("answer to another question")
	}
	return m, nil
}

// checkName returns name fully qualified, or an error (not temporary) when
// it cannot be a domain name.
func checkName(name string) (string, error) {
	name = dns.Fqdn(name)
	if _, ok := dns.IsDomainName(name); !ok || strings.Contains(name, "..") {
		return "", fmt.Errorf("resolve %q: %w", name, ErrBadName)
	}
	return name, nil
}

// ErrBadName is returned for a name that cannot be asked (bad label
// lengths, empty labels). It is permanent.
var ErrBadName = errors.New("not a valid domain name")
