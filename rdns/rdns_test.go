package rdns

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/resolver"
)

const zone = `
$ORIGIN test.
@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
2.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.
3.2.0.192.in-addr.arpa. 300 IN PTR forged.example.test.
mail.example.test. 300 IN A 192.0.2.2
forged.example.test. 300 IN A 198.51.100.9
`

func TestScores(t *testing.T) {
	s := dnstest.Start(t, zone)
	s.ServFail("5.2.0.192.in-addr.arpa", true)
	r, err := resolver.New(resolver.Config{Server: s.Addr(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Resolver: r, None: 1, Mismatch: 0.5})
	for _, tt := range []struct {
		name, ip, clientName string
		relay, auth          bool
		want                 []filters.Score
	}{
		{"forward-confirmed", "192.0.2.2", "mail.example.test", false, false, nil},
		{"no PTR", "192.0.2.4", "", false, false, []filters.Score{{Test: TestNone, Points: 1}}},
		{"PTR not confirmed", "192.0.2.3", "", false, false, []filters.Score{{Test: TestMismatch, Points: 0.5}}},
		{"DNS failure scores nothing", "192.0.2.5", "", false, false, nil},
		{"relay client", "192.0.2.4", "", true, false, nil},
		{"authenticated", "192.0.2.4", "", false, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn := &filters.ClientConn{ClientIP: netip.MustParseAddr(tt.ip), ClientName: tt.clientName, Log: slog.New(slog.DiscardHandler)}
			conn.SetRelayClient(tt.relay)
			if tt.auth {
				conn.AuthUser = "alice"
			}
			v := c.CheckMail(context.Background(), filters.NewTransaction(conn, "Q1"))
			if !slices.Equal(v.Scores, tt.want) {
				t.Errorf("scores %v, want %v", v.Scores, tt.want)
			}
		})
	}
}
