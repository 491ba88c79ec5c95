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
