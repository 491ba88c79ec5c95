package redistest

import (
	"context"
	"strings"
	"testing"

	"mailguard/redisconn"
)

// A client opened on the Sentinel URL writes to the master the sentinel
// names.
func TestSentinel(t *testing.T) {
	s := StartSentinel(t)
	c, err := redisconn.Open(s.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(context.Background(), "k", "through the sentinel", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(s.Master.Addr, "GET", "k"); err != nil || strings.TrimSpace(out) != "through the sentinel" {
		t.Fatalf("the master holds %q, %v", out, err)
	}
}

// The cluster spreads slots over its three nodes, and a client opened on
// its URL reaches keys on each.
func TestCluster(t *testing.T) {
	c := StartCluster(t)
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	for _, n := range c.Nodes {
		out, err := cli(n.Addr, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(out, "cluster_known_nodes:3") || !strings.Contains(out, "cluster_slots_assigned:16384") {
			t.Fatalf("%s: %v\n%s", n.Addr, err, out)
		}
	}
	rdb, err := redisconn.Open(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	held := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := rdb.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes {
			if out, _ := cli(n.Addr, "GET", k); strings.TrimSpace(out) == k {
				held[n.Addr] = true
			}
		}
	}
	if len(held) < 2 {
		t.Fatalf("8 keys landed on %d node(s); not a cluster", len(held))
	}
}
