// Package uribl checks the domains a message links to against URI
// blocklists (SpamAssassin's URIBL/URIDNSBL, Spamhaus DBL, SURBL multi,
// URIBL.com): lists of domains seen in spam and phishing, queried like an
// RHSBL (RFC 5782 section 2.3): example.com on dbl.example is asked as
// example.com.dbl.example; an address in a URL is asked reversed, as a
// DNSBL is.
//
// The domains come from the message as its reader sees it (Extract): the
// decoded text and HTML parts, their link targets, bare host names and the
// targets of redirectors. Each host is reduced to its registrable domain
// with the Public Suffix List, the form domain lists index; lists that
// index host names (hosts: true) get the host. What counts as a listing
// is package rbl's rule, the same as for the client lists: an answer in
// 127.0.0.0/8 narrowed by codes or a mask, and never one of the lists'
// "query refused" answers in 127.255.255.0/24.
package uribl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mailguard/filters"
	"mailguard/rbl"
	"mailguard/resolver"
)

// List is one URI blocklist.
type List struct {
	rbl.List
	// Hosts asks the list for host names as written in the link rather
	// than registrable domains.
	Hosts bool
}

// DefaultMaxLookups is how many names are asked of each list per message
// by default.
const DefaultMaxLookups = 20

// DefaultMaxBytes is how much of a message is read by default.
const DefaultMaxBytes = 2 << 20

// Config configures the filter.
type Config struct {
	Lists    []List
	Resolver resolver.Resolver
	// MaxLookups caps the names asked of each list per message (default
	// DefaultMaxLookups): the most mentioned first, so a message cannot
	// make the gateway send thousands of queries.
	MaxLookups int
	// Timeout bounds all of a message's lookups together (dns.timeout;
	// default 2s).
	Timeout time.Duration
	// MaxBytes bounds how much of the message is read.
	MaxBytes int64
	Log      *slog.Logger
}

// Filter is the URIBL check, run at the end of DATA.
type Filter struct {
	cfg Config
}

// New returns the filter.
func New(cfg Config) *Filter {
	if cfg.MaxLookups <= 0 {
		cfg.MaxLookups = DefaultMaxLookups
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = resolver.DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Filter{cfg: cfg}
}

// Name implements filters.Filter.
func (f *Filter) Name() string { return "uribl" }

// query is one name asked of one list.
type query struct {
	list *List
	item string // the domain, host or address as shown in logs
	name string // the DNS name asked
	res  rbl.Listing
}

// Queries returns the names each list is asked for links, in the order
// asked: at most max per list, the most mentioned items first.
func Queries(lists []List, links *Links, max int) [][]string {
	out := make([][]string, len(lists))
	for i := range lists {
		for _, q := range queries(&lists[i], links, max) {
			out[i] = append(out[i], q.name)
		}
	}
	return out
}

func queries(l *List, links *Links, max int) []query {
	zone := strings.TrimSuffix(l.Zone, ".")
	seen := map[string]bool{}
	var qs []query
	for _, it := range links.Items {
		if len(qs) >= max {
			break
		}
		var item, name string
		switch {
		case it.IP.IsValid():
			item, name = it.IP.String(), resolver.ReverseName(it.IP, zone)
		case l.Hosts:
			item = it.Host
		default:
			item = it.Domain
		}
		if name == "" {
			name = item + "." + zone + "."
		}
		if seen[item] || len(name) > 254 {
			continue
		}
		seen[item] = true
		qs = append(qs, query{list: l, item: item, name: name})
	}
	return qs
}

// CheckMessage implements filters.MessageChecker: every list is asked about
// the message's top links in parallel, within the timeout; a listing on a
// reject list refuses the message with 554 5.7.1 naming the domain and the
// list, a listing on a score list adds the list's weight once, under
// URIBL_<ZONE>, with the domains in the test's detail.
func (f *Filter) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	if len(f.cfg.Lists) == 0 || t.AllowListed() || t.Conn.AuthUser != "" {
		return filters.Pass()
	}
	log := t.Log
	if log == nil {
		log = f.cfg.Log
	}
	raw, err := m.Head(f.cfg.MaxBytes)
	if err != nil {
		log.Warn("uribl cannot read the message; no opinion", "filter", "uribl", "err", err)
		return filters.Pass()
	}
	links := Extract(raw)
	if len(links.Items) == 0 {
		return filters.Pass()
	}
	var all [][]query
	for i := range f.cfg.Lists {
		all = append(all, queries(&f.cfg.Lists[i], links, f.cfg.MaxLookups))
	}
	lctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, qs := range all {
		for k := range qs {
			q := &qs[k]
			wg.Go(func() {
				q.res = rbl.Lookup(lctx, f.cfg.Resolver, &q.list.List, q.name, log)
			})
		}
	}
	wg.Wait()
	var v filters.Verdict
	for i, qs := range all {
		l := &f.cfg.Lists[i]
		var listed []string
		for _, q := range qs {
			if q.res.Err != nil {
				log.Warn("uribl lookup failed; counted as not listed", "filter", "uribl", "zone", l.Zone, "query", q.name, "err", q.res.Err)
				continue
			}
			if !q.res.Listed {
				continue
			}
			if l.Reject {
				r := filters.ReplyURIBL.Format(q.item, l.Zone).Because(q.res.Reason).WithQueueID(t.QueueID)
				log.Info("reject: link to a listed domain", "filter", "uribl", "zone", l.Zone, "domain", q.item, "answer", q.res.Answer.String(), "reply", r.String())
				return filters.Refuse(r, fmt.Sprintf("link to %s listed in %s (%s)", q.item, l.Zone, q.res.Answer))
			}
			listed = append(listed, q.item)
			log.Info("score: link to a listed domain", "filter", "uribl", "zone", l.Zone, "domain", q.item, "answer", q.res.Answer.String(), "test", TestName(l.Zone), "points", l.Weight)
		}
		if len(listed) > 0 {
			v.Scores = append(v.Scores, filters.Score{Test: TestName(l.Zone), Points: l.Weight, Detail: strings.Join(listed, ",")})
		}
	}
	log.Debug("uribl", "filter", "uribl", "links", len(links.Items), "lists", len(f.cfg.Lists))
	return v
}

// TestName is the test a score list's listing appears under in
// X-Spam-Status: URIBL_ and the zone upper-cased (URIBL_DBL_SPAMHAUS_ORG).
func TestName(zone string) string { return rbl.TestName("URIBL_", zone) }
