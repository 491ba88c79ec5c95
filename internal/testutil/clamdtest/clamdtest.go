// Package clamdtest runs ClamAV's daemon for tests: a clamd of the
// machine's own (Debian's clamav-daemon), with a configuration and a
// signature database written by the test, listening on a unix socket in a
// temporary directory or on a 127.0.0.1 port, stopped by its pid when the
// test ends. Nothing is downloaded: the database holds one signature, the
// MD5 of the EICAR test file.
package clamdtest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signature is the name the test database gives EICAR; clamd reports it
// with the database's suffix (".UNOFFICIAL").
const Signature = "Mailguard-Test.EICAR"

// EICAR returns the EICAR anti-virus test file (68 bytes). It is built
// from two halves so that this source file itself is not flagged by
// scanners on developers' machines.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

// Server is a running clamd.
type Server struct {
	// Addr is how mailguard's configuration names it: "unix:/path" or
	// "127.0.0.1:port".
	Addr string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// Binary returns clamd's path, or skips the test when it is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("clamd")
	if err != nil {
		for _, c := range []string{"/usr/sbin/clamd", "/usr/local/sbin/clamd"} {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
		t.Skip("clamd not installed (Debian package clamav-daemon; `make deps` installs it)")
	}
	return p
}

// Start runs clamd on a unix socket (tcp false) or a loopback port (tcp
// true) and waits until it answers PING.
func Start(t testing.TB, tcp bool) *Server {
	t.Helper()
	bin := Binary(t)
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(EICAR())
	hdb := fmt.Sprintf("%s:%d:%s\n", hex.EncodeToString(sum[:]), len(EICAR()), Signature)
	if err := os.WriteFile(filepath.Join(db, "mailguard-test.hdb"), []byte(hdb), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{dir: dir, done: make(chan struct{})}
	conf := []string{
		"Foreground yes",
		"DatabaseDirectory " + db,
		"LogFile " + filepath.Join(dir, "clamd.log"),
		"TemporaryDirectory " + dir,
		"Bytecode no",
		"StreamMaxLength 30M",
	}
	if tcp {
		port := freePort(t)
		conf = append(conf, "TCPSocket "+port, "TCPAddr 127.0.0.1")
		s.Addr = "127.0.0.1:" + port
	} else {
		sock := filepath.Join(dir, "clamd.sock")
		conf = append(conf, "LocalSocket "+sock)
		s.Addr = "unix:" + sock
	}
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.cmd = exec.Command(bin, "-c", confPath)
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start clamd: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	// Loading even one signature takes clamd a moment; wait for it to
	// answer, or for it to exit.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if s.ping() {
			return s
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd exited:\n%s\n%s", out.String(), log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clamd did not answer PING:\n%s", out.String())
		}
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func (s *Server) ping() bool {
	network, addr := "tcp", s.Addr
	if p, ok := strings.CutPrefix(s.Addr, "unix:"); ok {
		network, addr = "unix", p
	}
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("zPING\x00")); err != nil {
		return false
	}
	b := make([]byte, 16)
	n, _ := c.Read(b)
	return strings.HasPrefix(string(b[:n]), "PONG")
}

// Stop ends clamd (SIGTERM to its pid, then SIGKILL) and waits for it.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}
