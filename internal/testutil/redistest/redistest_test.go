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
