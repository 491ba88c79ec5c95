// Package redistest runs a Redis server for tests: the machine's own
// redis-server (Debian's redis-server package) on a free 127.0.0.1 port,
// without persistence, in a directory of the test's, stopped by its pid
// when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	bin  string
	dir  string
	t    testing.TB
	// durable keeps an append-only file, fsynced on every write.
	durable bool
	// conf is a configuration file given before the options (a
	// sentinel's), extra are options added after them.
	conf  string
	extra []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

// Binary returns redis-server's path, or skips the test when it is not
// installed.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (Debian package redis-server; `make deps` installs it)")
	}
	return p
}

// Start runs redis-server on a free loopback port, without persistence,
// and waits until it answers PING. The test's cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartDurable is Start with an append-only file synced on every write
// (appendfsync always), as a site that must not lose held mail runs
// Redis: a Restart finds the data again.
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, durable bool) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir(), t: t, durable: durable, Addr: freeAddr(t)}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// URL is the store value naming database db of the server.
func (s *Server) URL(db int) string {
	return "redis://" + s.Addr + "/" + strconv.Itoa(db)
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	aof := []string{"--appendonly", "no"}
	if s.durable {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	var args []string
	if s.conf != "" {
		args = []string{s.conf}
	}
	args = append(append(append(args, "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--dir", s.dir, "--daemonize", "no", "--protected-mode", "yes"), aof...), s.extra...)
	cmd := exec.Command(s.bin, args...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ping(s.Addr) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer PING:\n%s", out.String())
		}
	}
}

// Stop kills the server by its pid and waits for it to exit; unless
// durable, its data is gone. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart kills the server and starts it again on the same port, as when
// Redis crashes and comes back: empty, or with its data when durable.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Pause stops the server with SIGSTOP, as a Redis that hangs (swapping,
// stuck on a disk): connections are accepted by the kernel, nothing is
// answered. The test's cleanup resumes it before stopping it.
func (s *Server) Pause() {
	s.signal(syscall.SIGSTOP)
	s.t.Cleanup(s.Resume)
}

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}
