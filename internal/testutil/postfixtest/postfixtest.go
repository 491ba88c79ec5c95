// Package postfixtest runs a private Postfix on 127.0.0.1 for a test: its
// own config_directory, queue_directory and data_directory under the test's
// temporary directory, an smtpd on a free loopback port, and every message
// it accepts delivered by its smtp client to one host:port (typically a
// recording server from internal/testutil/smtptest). Its log goes to a file
// (maillog_file through the postlog service: there is no syslog in tests).
//
// Several instances may run at once: each has its own queue, lock files and
// sockets, and none is chrooted. Postfix's master must start as root, so a
// test using this package is skipped, saying why, when postfix is not
// installed or the test does not run as root.
package postfixtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape the instance.
type Options struct {
	// Relay is the host:port every message is delivered to, whatever its
	// domain (relayhost, and the default, local and relay transports), with
	// no MX lookup. Empty: "127.0.0.1:9", so mail stays deferred.
	Relay string
	// Main are main.cf settings (name to value) applied over the defaults,
	// e.g. "smtpd_milters": "inet:127.0.0.1:8891",
	// "smtpd_authorized_xforward_hosts": "127.0.0.0/8".
	Main map[string]string
	// Smtpd are the -o settings of the smtpd listening on Addr, as in a
	// master.cf entry (values without spaces).
	Smtpd map[string]string
	// Master are lines appended to master.cf. The smtpd listening on Addr
	// is already there.
	Master []string
}

// Postfix is a running instance.
type Postfix struct {
	// Addr is the smtpd's host:port (on 127.0.0.1).
	Addr string
	// Dir holds main.cf, master.cf, the queue ("spool"), the data
	// directory ("data") and the log ("maillog").
	Dir string

	logFile string
	mu      sync.Mutex
	stopped bool
}

// Binary is where the postfix command is looked for.
const Binary = "/usr/sbin/postfix"

func postfixPath() (string, bool) {
	if p, err := exec.LookPath("postfix"); err == nil {
		return p, true
	}
	if _, err := os.Stat(Binary); err == nil {
		return Binary, true
	}
	return "", false
}

// Available says whether a private Postfix can run here, and if not, why.
func Available() (bool, string) {
	if _, ok := postfixPath(); !ok {
		return false, "postfix is not installed (Debian package postfix; `make deps` installs it)"
	}
	if os.Geteuid() != 0 {
		return false, "postfix's master must start as root and this test does not run as root"
	}
	if _, err := user.Lookup("postfix"); err != nil {
		return false, "the postfix user is missing (reinstall the Debian package postfix)"
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		return false, "the postdrop group is missing (reinstall the Debian package postfix)"
	}
	return true, ""
}

// Start runs an instance until the test ends, or skips the test when
// Postfix cannot run here.
func Start(tb testing.TB, opts Options) *Postfix {
	tb.Helper()
	if ok, why := Available(); !ok {
		tb.Skipf("postfixtest: %s", why)
	}
	dir := tb.TempDir()
	p, err := start(dir, opts)
	if p != nil {
		tb.Cleanup(func() {
			p.Stop()
			if tb.Failed() {
				tb.Logf("postfix log:\n%s", p.Log())
			}
		})
	}
	if err != nil {
		tb.Fatalf("postfixtest: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// services are master.cf's entries apart from the smtpd listener: what a
// queue, delivery over SMTP and the log need, none chrooted.
var services = []string{
	"pickup    unix  n       -       n       60      1       pickup",
	"cleanup   unix  n       -       n       -       0       cleanup",
	"qmgr      unix  n       -       n       300     1       qmgr",
	"rewrite   unix  -       -       n       -       -       trivial-rewrite",
	"bounce    unix  -       -       n       -       0       bounce",
	"defer     unix  -       -       n       -       0       bounce",
	"trace     unix  -       -       n       -       0       bounce",
	"verify    unix  -       -       n       -       1       verify",
	"flush     unix  n       -       n       1000?   0       flush",
	"proxymap  unix  -       -       n       -       -       proxymap",
	"proxywrite unix -       -       n       -       1       proxymap",
	"smtp      unix  -       -       n       -       -       smtp",
	"relay     unix  -       -       n       -       -       smtp",
	"showq     unix  n       -       n       -       -       showq",
	"error     unix  -       -       n       -       -       error",
	"retry     unix  -       -       n       -       -       error",
	"discard   unix  -       -       n       -       -       discard",
	"local     unix  -       n       n       -       -       local",
	"anvil     unix  -       -       n       -       1       anvil",
	"scache    unix  -       -       n       -       1       scache",
	"postlog   unix-dgram n  -       n       -       1       postlogd",
}

func start(dir string, opts Options) (*Postfix, error) {
	// The daemons run as the postfix user and open paths under dir.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	pw, err := user.Lookup("postfix")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(pw.Uid)
	gid, _ := strconv.Atoi(pw.Gid)
	spool, data := filepath.Join(dir, "spool"), filepath.Join(dir, "data")
	if err := os.Mkdir(spool, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(data, uid, gid); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	relay := opts.Relay
	if relay == "" {
		relay = "127.0.0.1:9"
	}
	host, rport, err := net.SplitHostPort(relay)
	if err != nil {
		return nil, fmt.Errorf("relay %q: %w", relay, err)
	}
	nexthop := "[" + host + "]:" + rport
	p := &Postfix{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, logFile: filepath.Join(dir, "maillog")}

	main := map[string]string{
		"compatibility_level":      "3.6",
		"queue_directory":          spool,
		"data_directory":           data,
		"mail_owner":               "postfix",
		"setgid_group":             "postdrop",
		"import_environment":       "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME",
		"syslog_name":              "postfix-" + strconv.Itoa(port),
		"maillog_file":             p.logFile,
		"maillog_file_prefixes":    dir,
		"myhostname":               "postfix.test",
		"mydomain":                 "test",
		"myorigin":                 "$myhostname",
		"mydestination":            "",
		"mynetworks":               "127.0.0.0/8",
		"inet_interfaces":          "loopback-only",
		"inet_protocols":           "ipv4",
		"smtp_bind_address":        "127.0.0.1",
		"relayhost":                nexthop,
		"default_transport":        "smtp:" + nexthop,
		"relay_transport":          "smtp:" + nexthop,
		"local_transport":          "smtp:" + nexthop,
		"smtp_dns_support_level":   "disabled",
		"smtp_host_lookup":         "native",
		"smtpd_tls_security_level": "none",
		"smtp_tls_security_level":  "none",
		"alias_maps":               "",
		"alias_database":           "",
		"biff":                     "no",
		"append_dot_mydomain":      "no",
		"smtputf8_enable":          "yes",
		"master_service_disable":   "",
		"readme_directory":         "no",
		"html_directory":           "no",
	}
	maps.Copy(main, opts.Main)
	var mb bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(main)) {
		fmt.Fprintf(&mb, "%s = %s\n", k, main[k])
	}
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), mb.Bytes(), 0o644); err != nil {
		return nil, err
	}
	listener := p.Addr + " inet n - n - - smtpd"
	for _, k := range slices.Sorted(maps.Keys(opts.Smtpd)) {
		listener += "\n  -o " + k + "=" + opts.Smtpd[k]
	}
	master := append([]string{listener}, services...)
	master = append(master, opts.Master...)
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(strings.Join(master, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	// start creates the queue's subdirectories with their owners and modes
	// (post-install create-missing).
	if out, err := p.run("postfix", "start"); err != nil {
		return p, fmt.Errorf("postfix start: %v: %s\n%s", err, out, p.Log())
	}
	if err := p.waitListening(30 * time.Second); err != nil {
		return p, fmt.Errorf("%v\n%s", err, p.Log())
	}
	return p, nil
}

// run runs a Postfix command (postfix, postqueue, postsuper, postconf) on
// this instance's configuration.
func (p *Postfix) run(cmd string, args ...string) ([]byte, error) {
	path := filepath.Join(filepath.Dir(Binary), cmd)
	if pp, ok := postfixPath(); ok {
		path = filepath.Join(filepath.Dir(pp), cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, path, append([]string{"-c", p.Dir}, args...)...)
	c.Env = append(os.Environ(), "MAIL_CONFIG="+p.Dir)
	return c.CombinedOutput()
}

func (p *Postfix) waitListening(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smtpd on %s not answering after %s: %v", p.Addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns the instance's log so far.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// WaitLog waits until a log line contains every one of parts, or d passed;
// it returns the first such line and whether there was one. Postfix writes
// its log asynchronously (through postlogd), so a test reads it this way.
func (p *Postfix) WaitLog(d time.Duration, parts ...string) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		for line := range strings.SplitSeq(p.Log(), "\n") {
			all := true
			for _, s := range parts {
				if !strings.Contains(line, s) {
					all = false
					break
				}
			}
			if all && line != "" {
				return line, true
			}
		}
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Flush asks for delivery of every queued message now (postqueue -f).
func (p *Postfix) Flush() error {
	if out, err := p.run("postqueue", "-f"); err != nil {
		return fmt.Errorf("postqueue -f: %v: %s", err, out)
	}
	return nil
}

// Queued returns how many messages the queue holds (postqueue -j).
func (p *Postfix) Queued() (int, error) {
	out, err := p.run("postqueue", "-j")
	if err != nil {
		return 0, fmt.Errorf("postqueue -j: %v: %s", err, out)
	}
	n := 0
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "{") {
			n++
		}
	}
	return n, nil
}

// Reload makes the running instance reread main.cf and master.cf after
// settings were changed with Set.
func (p *Postfix) Reload() error {
	if out, err := p.run("postfix", "reload"); err != nil {
		return fmt.Errorf("postfix reload: %v: %s", err, out)
	}
	return nil
}

// Set changes main.cf settings (postconf -e); Reload applies them.
func (p *Postfix) Set(settings map[string]string) error {
	args := []string{"-e"}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, k+"="+settings[k])
	}
	if out, err := p.run("postconf", args...); err != nil {
		return fmt.Errorf("postconf -e: %v: %s", err, out)
	}
	return nil
}

// Stop stops the instance (postfix stop, then the master's pid when it
// does not go). It is safe to call more than once.
func (p *Postfix) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	pid := p.masterPID()
	p.run("postfix", "stop")
	if pid <= 0 {
		return
	}
	// postfix stop returns before the master and its children are gone;
	// the temporary directory must not be removed under them.
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
}

func (p *Postfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.Dir, "spool", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
