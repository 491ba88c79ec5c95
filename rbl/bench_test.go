package rbl

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

// benchZones returns three lists; one client in ten is listed on each.
func benchZones() (string, []List) {
	var b strings.Builder
	var lists []List
	for i, z := range []string{"bl1.test.", "bl2.test.", "bl3.test."} {
		fmt.Fprintf(&b, "$ORIGIN %s\n@ 300 IN SOA ns.%s h.%s 1 3600 600 86400 300\n", z, z, z)
		for n := 0; n < 10000; n += 10 {
			ip := benchIP(n + i)
			fmt.Fprintf(&b, "%s 300 IN A 127.0.0.2\n", resolver.ReverseName(ip, z))
		}
		lists = append(lists, List{Zone: strings.TrimSuffix(z, "."), Weight: 1})
	}
	return b.String(), lists
}

func benchIP(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// connections runs one connection per client (connect, then one RCPT TO)
// with `workers` connections at a time.
func connections(f *DNSBL, clients []netip.Addr, workers int) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	ch := make(chan netip.Addr)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ip := range ch {
				c := &filters.ClientConn{ClientIP: ip, Log: log}
				f.CheckConnect(ctx, c)
				t := filters.NewTransaction(c, "Q")
				f.CheckRcpt(ctx, t, "u@example.org")
			}
		})
	}
	for _, ip := range clients {
		ch <- ip
	}
	close(ch)
	wg.Wait()
}

func benchFilter(b *testing.B, s *dnstest.Server, lists []List) *DNSBL {
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: 5 * time.Second, CacheSize: 100000})
	if err != nil {
		b.Fatal(err)
	}
	return NewDNSBL(Config{Lists: lists, Resolver: r, Timeout: 5 * time.Second, Log: slog.New(slog.DiscardHandler)})
}

// runConnections runs the clients' connections once per benchmark
// iteration, each time through a new filter on a cold cache, and returns
// the DNS queries the server answered and the time the connections took.
func runConnections(b *testing.B, s *dnstest.Server, lists []List, clients []netip.Addr) (queries int, elapsed time.Duration) {
	for b.Loop() {
		f := benchFilter(b, s, lists)
		s.ResetCounts()
		start := time.Now()
		connections(f, clients, 64)
		elapsed += time.Since(start)
		queries += s.TotalQueries()
	}
	return queries, elapsed
}

// BenchmarkDistinctClients: 10,000 connections from distinct addresses,
// each checked against 3 lists, on a cold cache: every check is a query to
// the local DNS server.
func BenchmarkDistinctClients(b *testing.B) {
	zone, lists := benchZones()
	s := dnstest.Start(b, zone)
	clients := make([]netip.Addr, 10000)
	for i := range clients {
		clients[i] = benchIP(i)
	}
	queries, elapsed := runConnections(b, s, lists, clients)
	b.ReportMetric(float64(queries)/elapsed.Seconds(), "queries/s")
	b.ReportMetric(float64(queries)/float64(b.N), "queries/run")
}

// BenchmarkSkewedClients: 10,000 connections from 2,000 addresses, 80% of
// them from the busiest 20% (400 addresses), against 3 lists on a cold
// cache; reports how many list checks the cache answered.
func BenchmarkSkewedClients(b *testing.B) {
	zone, lists := benchZones()
	s := dnstest.Start(b, zone)
	rng := rand.New(rand.NewPCG(1, 2))
	clients := make([]netip.Addr, 10000)
	for i := range clients {
		if rng.IntN(100) < 80 {
			clients[i] = benchIP(rng.IntN(400))
		} else {
			clients[i] = benchIP(400 + rng.IntN(1600))
		}
	}
	queries, elapsed := runConnections(b, s, lists, clients)
	checks := float64(len(clients)*len(lists)) * float64(b.N)
	b.ReportMetric(100*(1-float64(queries)/checks), "hit%")
	b.ReportMetric(checks/elapsed.Seconds(), "checks/s")
}
