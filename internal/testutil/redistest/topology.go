package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterName is the name the Sentinel of StartSentinel monitors.
const MasterName = "mymaster"

// Sentinel is a master and one redis-server in sentinel mode watching it,
// as a site with automatic failover runs Redis (with more sentinels and
// replicas).
type Sentinel struct {
	Master *Server
	// Sentinel is the sentinel process; its Addr is what clients dial.
	Sentinel *Server
}

// StartSentinel starts a master and a sentinel monitoring it as
// MasterName, and waits until the sentinel names the master.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	m := Start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	host, port, _ := net.SplitHostPort(m.Addr)
	// The sentinel rewrites its file: it must be its own, writable.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor %s %s %s 1\n", MasterName, host, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{bin: m.bin, dir: dir, t: t, conf: conf, extra: []string{"--sentinel"}, Addr: freeAddr(t)}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sentinel to name the master", func() bool {
		out, err := cli(s.Addr, "SENTINEL", "get-master-addr-by-name", MasterName)
		return err == nil && strings.Contains(out, port)
	})
	return &Sentinel{Master: m, Sentinel: s}
}

// URL is the store value naming database db through the sentinel.
func (s *Sentinel) URL(db int) string {
	return "redis://" + s.Sentinel.Addr + "/" + strconv.Itoa(db) + "?master_name=" + MasterName
}

// Cluster is a Redis Cluster of three masters on loopback, without
// replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three redis-server with cluster mode on, joins them
// with `redis-cli --cluster create` (every slot assigned) and waits until
// each node reports cluster_state:ok. It skips when redis-cli is missing
// (Debian's redis-tools, a dependency of redis-server).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed (Debian package redis-tools, installed with redis-server)")
	}
	c := &Cluster{}
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		n := &Server{bin: bin, dir: dir, t: t, Addr: freeClusterAddr(t),
			extra: []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000"}}
		t.Cleanup(n.Stop)
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		waitFor(t, "cluster_state:ok on "+n.Addr, func() bool {
			out, err := cli(n.Addr, "CLUSTER", "INFO")
			return err == nil && strings.Contains(out, "cluster_state:ok")
		})
	}
	return c
}

// URL is the store value naming the cluster (database 0, the only one a
// cluster has).
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr
	}
	return u
}

// cli runs one command through redis-cli.
func cli(addr string, args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds, for at most 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
	}
}

// freeAddr is a free 127.0.0.1 port.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// freeClusterAddr is a free 127.0.0.1 port whose cluster bus port (the
// port + 10000) is free too.
func freeClusterAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		a := freeAddr(t)
		_, p, _ := net.SplitHostPort(a)
		port, _ := strconv.Atoi(p)
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		l.Close()
		return a
	}
	t.Fatal("no free port pair for a cluster node")
	return ""
}
