package rbl_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"mailguard/internal/testutil/dnstest"
	"mailguard/rbl"
	"mailguard/resolver"
)

// Asking a list about a client, as the DNSBL filter does at connect time.
func ExampleLookup() {
	// A list holding the RFC 5782 test entry, served on 127.0.0.1.
	srv, err := dnstest.New(`
$ORIGIN bl.example.
@         300 IN SOA ns hostmaster 1 3600 600 86400 60
2.0.0.127 300 IN A   127.0.0.2
2.0.0.127 300 IN TXT "test entry"
`)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	r, err := resolver.New(resolver.Config{Server: srv.Addr()})
	if err != nil {
		panic(err)
	}
	list := &rbl.List{Zone: "bl.example", Reject: true}
	for _, ip := range []string{"127.0.0.2", "192.0.2.1"} {
		name := resolver.ReverseName(netip.MustParseAddr(ip), list.Zone)
		l := rbl.Lookup(context.Background(), r, list, name, slog.Default())
		fmt.Printf("%s listed=%v answer=%v reason=%q\n", name, l.Listed, l.Answer, l.Reason)
	}
	// Output:
	// 2.0.0.127.bl.example. listed=true answer=127.0.0.2 reason="test entry"
	// 1.2.0.192.bl.example. listed=false answer=invalid IP reason=""
}
