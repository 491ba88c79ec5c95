package redistest

import (
	"net"
	"testing"
)

func TestStartRestartStop(t *testing.T) {
	s := Start(t)
	if !ping(s.Addr) {
		t.Fatal("server does not answer PING")
	}
	if h, _, _ := net.SplitHostPort(s.Addr); h != "127.0.0.1" {
		t.Errorf("listens on %s, want loopback", s.Addr)
	}
	s.Restart(t)
	if !ping(s.Addr) {
		t.Fatal("restarted server does not answer PING")
	}
	s.Stop()
	if ping(s.Addr) {
		t.Fatal("stopped server still answers")
	}
}

func TestDurableRestartKeepsData(t *testing.T) {
	s := StartDurable(t)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("SET k v\r\n"))
	buf := make([]byte, 16)
	c.Read(buf)
	c.Close()
	s.Restart(t)
	c, err = net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET k\r\n"))
	n, _ := c.Read(buf)
	if string(buf[:n]) != "$1\r\nv\r\n" {
		t.Errorf("after a restart GET k = %q", buf[:n])
	}
}
