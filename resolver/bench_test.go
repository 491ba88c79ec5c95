package resolver

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"mailguard/internal/testutil/dnstest"
)

// BenchmarkCachedLookup measures an answer served from the cache.
func BenchmarkCachedLookup(b *testing.B) {
	s := dnstest.StartFile(b, "testdata/example.zone")
	r, err := New(Config{Server: s.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Lookup(ctx, "mx1.example.org.", dns.TypeA); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Lookup(ctx, "mx1.example.org.", dns.TypeA); err != nil {
			b.Fatal(err)
		}
	}
	if s.TotalQueries() != 1 {
		b.Fatalf("%d queries reached the server, want 1", s.TotalQueries())
	}
}

// BenchmarkUncachedLookup measures a round trip to the local server.
func BenchmarkUncachedLookup(b *testing.B) {
	s := dnstest.StartFile(b, "testdata/example.zone")
	r, err := New(Config{Server: s.Addr(), CacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Lookup(ctx, "mx1.example.org.", dns.TypeA); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedLookupParallel measures cached answers under concurrency
// (the cache's lock is shared by all connections).
func BenchmarkCachedLookupParallel(b *testing.B) {
	s := dnstest.StartFile(b, "testdata/example.zone")
	r, err := New(Config{Server: s.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	names := []string{"mx1.example.org.", "mx2.example.org.", "example.org.", "web.example.org."}
	for _, n := range names {
		if _, err := r.Lookup(ctx, n, dns.TypeA); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Lookup(ctx, names[i%len(names)], dns.TypeA)
			i++
		}
	})
}
