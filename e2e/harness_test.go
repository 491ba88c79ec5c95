package e2e

// The harness in this file is shared by every e2e test: TestMain builds the
// binary once; Start writes a configuration, runs `mailguard serve`, waits
// for it to listen and stops it with SIGTERM when the test ends.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"mailguard/internal/testutil/dnstest"
	"mailguard/internal/testutil/smtptest"
)

// binary is the mailguard built for this run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailguard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mailguard")
	build := exec.Command("go", "build", "-o", binary, "mailguard/cmd/mailguard")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building mailguard:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Run runs a mailguard command to its end and returns its outputs and exit
// status.
func Run(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mailguard %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

// Options shape a gateway under test. Zero values start what is missing.
type Options struct {
	// Backend is the MTA mail is relayed to; nil starts a smtptest server.
	Backend *smtptest.Server
	// BackendOptions are used when the harness starts the backend.
	BackendOptions smtptest.Options
	// DNS answers the gateway's questions; nil starts a dnstest server
	// with Zone (default testdata/base.zone).
	DNS  *dnstest.Server
	Zone string
	// Settings are configuration keys merged over the harness's base
	// (hostname mx.test, listen on a free port, the backend, data_dir in
	// the test's temporary directory, dns.resolver the test's DNS server,
	// relay_networks [127.0.0.1/32], domains [example.org]). Nested maps
	// merge key by key; any other value replaces the base's.
	Settings map[string]any
	// NoWait returns as soon as the process started, without waiting for
	// it to listen (for tests of startup failures).
	NoWait bool
}

// Gateway is a running `mailguard serve`.
type Gateway struct {
	t *testing.T
	// Addr is the SMTP listener's host:port.
	Addr string
	// Dir is the test's directory: the configuration file and data_dir
	// are in it.
	Dir        string
	ConfigPath string
	Backend    *smtptest.Server
	DNS        *dnstest.Server
	// Settings are the configuration as written.
	Settings map[string]any

	cmd    *exec.Cmd
	log    *logBuffer
	exited chan struct{}
	code   int
}

// baseSettings is the configuration every gateway starts from.
func baseSettings(dir, backend, dnsAddr string) map[string]any {
	return map[string]any{
		"hostname":       "mx.test",
		"listen":         "127.0.0.1:0",
		"backend":        backend,
		"data_dir":       filepath.Join(dir, "data"),
		"domains":        []string{"example.org"},
		"relay_networks": []string{"127.0.0.1/32"},
		"dns":            map[string]any{"resolver": dnsAddr, "timeout": "2s"},
		// The pregreet delay is off but where a test is about it.
		"limits": map[string]any{"shutdown_timeout": "10s", "greet_delay": "0s"},
	}
}

// merge sets over onto base, recursing into maps.
func merge(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// WriteConfig writes settings as YAML to dir/name and returns the path.
func WriteConfig(t *testing.T, dir, name string, settings map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(settings)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("config: %v", err)
	}
	return path
}

// WriteConfigRaw writes configuration text as it is (for broken files).
func WriteConfigRaw(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// userLine is a users file's line for user with password, bcrypt-hashed
// at the lowest cost: "user:hash\n".
func userLine(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(hash) + "\n"
}

// Start runs `mailguard serve` and waits until it accepts SMTP; it is
// stopped (SIGTERM) when the test ends.
func Start(t *testing.T, o Options) *Gateway {
	t.Helper()
	dir := t.TempDir()
	g := &Gateway{t: t, Dir: dir, Backend: o.Backend, DNS: o.DNS, log: &logBuffer{changed: make(chan struct{})}, exited: make(chan struct{})}
	if g.Backend == nil {
		g.Backend = smtptest.Start(t, o.BackendOptions)
	}
	if g.DNS == nil {
		zone := o.Zone
		if zone == "" {
			b, err := os.ReadFile("testdata/base.zone")
			if err != nil {
				t.Fatal(err)
			}
			zone = string(b)
		}
		g.DNS = dnstest.Start(t, zone)
	}
	g.Settings = merge(baseSettings(dir, g.Backend.Addr, g.DNS.Addr()), o.Settings)
	g.ConfigPath = WriteConfig(t, dir, "mailguard.yaml", g.Settings)

	g.cmd = exec.Command(binary, "serve", "-config", g.ConfigPath)
	g.cmd.Dir = dir
	g.cmd.Stdout = g.log
	g.cmd.Stderr = g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start mailguard: %v", err)
	}
	go func() {
		err := g.cmd.Wait()
		g.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			g.code = ee.ExitCode()
		}
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("mailguard log:\n%s", g.Log())
		}
	})
	if o.NoWait {
		return g
	}
	line, ok := g.WaitLog(`msg=listening service=smtp addr=`, 30*time.Second)
	if !ok {
		t.Fatalf("mailguard did not start listening:\n%s", g.Log())
	}
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)
	g.Addr = m[1]
	c := g.Dial(smtptest.DialOptions{})
	if c.Banner.Code != 220 {
		t.Fatalf("banner: %s", c.Banner)
	}
	c.Close()
	return g
}

// MetricsURL waits for the metrics listener (metrics.listen) and returns
// its base URL, http://HOST:PORT.
func (g *Gateway) MetricsURL() string {
	g.t.Helper()
	line, ok := g.WaitLog(`msg=listening service=metrics addr=`, 10*time.Second)
	if !ok {
		g.t.Fatalf("no metrics listener in the log:\n%s", g.Log())
	}
	return "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(line)[1]
}

// Dial connects a test client to the gateway.
func (g *Gateway) Dial(o smtptest.DialOptions) *smtptest.Client {
	g.t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	return smtptest.Dial(g.t, g.Addr, o)
}

// DialFrom connects from a given loopback address (127.0.0.x), so a test
// can be several clients.
func (g *Gateway) DialFrom(source string) *smtptest.Client {
	g.t.Helper()
	return g.Dial(smtptest.DialOptions{Source: source})
}

// Log is everything the gateway wrote so far.
func (g *Gateway) Log() string { return g.log.String() }

// WaitLog waits for a log line matching the regular expression re and
// returns it.
func (g *Gateway) WaitLog(re string, d time.Duration) (string, bool) {
	return g.log.wait(regexp.MustCompile(re), d)
}

// LogLines returns the log lines matching re.
func (g *Gateway) LogLines(re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, l := range strings.Split(g.Log(), "\n") {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// PID is the gateway's process id.
func (g *Gateway) PID() int { return g.cmd.Process.Pid }

// Signal sends sig to the gateway.
func (g *Gateway) Signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the process to end and returns its exit status, or -1
// when it is still running after d.
func (g *Gateway) Wait(d time.Duration) int {
	select {
	case <-g.exited:
		return g.code
	case <-time.After(d):
		return -1
	}
}

// Exited reports whether the process has ended.
func (g *Gateway) Exited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for the exit (killing the process if it
// outlives its shutdown deadline by far); it returns the exit status.
func (g *Gateway) Stop() int {
	if g.Exited() {
		return g.code
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.Wait(60 * time.Second); code >= 0 {
		return code
	}
	g.t.Errorf("mailguard ignored SIGTERM for 60s; killing it")
	g.cmd.Process.Kill()
	return g.Wait(10 * time.Second)
}

// Reconfigure writes new settings (merged over the current ones) to the
// configuration file; send SIGHUP to apply them.
func (g *Gateway) Reconfigure(over map[string]any) {
	g.t.Helper()
	g.Settings = merge(g.Settings, over)
	WriteConfig(g.t, g.Dir, "mailguard.yaml", g.Settings)
}

// ProcStatus reads a field of /proc/PID/status in kB (VmHWM, VmRSS).
func (g *Gateway) ProcStatus(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.PID()))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if name, rest, ok := strings.Cut(sc.Text(), ":"); ok && name == field {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, g.PID())
}

// logBuffer collects the gateway's output and lets tests wait for lines.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) wait(re *regexp.Regexp, d time.Duration) (string, bool) {
	deadline := time.After(d)
	for {
		l.mu.Lock()
		for _, line := range strings.Split(l.b.String(), "\n") {
			if re.MatchString(line) {
				l.mu.Unlock()
				return line, true
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return "", false
		}
	}
}

// queueIDAtEnd matches the end of a refusal's text: "...; queue id ID".
var queueIDAtEnd = regexp.MustCompile(`; queue id ([0-9A-F]{10,12})$`)

// RequireQueueID fails the test unless the reply's text ends with a queue
// id, and returns the id.
func RequireQueueID(t *testing.T, r smtptest.Reply) string {
	t.Helper()
	m := queueIDAtEnd.FindStringSubmatch(r.Text)
	if m == nil {
		t.Errorf("reply %q does not end with a queue id", r.Text)
		return ""
	}
	return m[1]
}
