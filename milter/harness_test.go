package milter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	milterlib "github.com/d--j/go-milter"

	"mailguard/filters"
	"mailguard/internal/testutil/dnstest"
	"mailguard/internal/testutil/logbuf"
	"mailguard/quarantine"
	"mailguard/resolver"
	"mailguard/rules"
)

// harness is a milter server on 127.0.0.1 with the chain a configuration
// builds, its DNS answered by a dnstest server from testdata/test.zone, and
// an embedded quarantine in a temporary directory.
type harness struct {
	srv   *Server
	addr  string
	store quarantine.Store
	dns   *dnstest.Server
	logs  *logbuf.Buffer
	spool string
}

// baseConfig is the gateway's configuration in the tests: example.org is
// the local domain; bl.test refuses, score.test scores 12 (between the
// quarantine and reject thresholds).
const baseConfig = `
hostname: mx.example.org
domains: [example.org]
relay_networks: []
dnsbl:
  - {zone: bl.test, action: reject}
  - {zone: score.test, action: score, weight: 12}
`

func startHarness(t testing.TB, extraYAML string, edit func(*Config)) *harness {
	t.Helper()
	zone, err := os.ReadFile("testdata/test.zone")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Start(t, string(zone))
	dir := t.TempDir()
	yaml := baseConfig + fmt.Sprintf("data_dir: %s\ndns: {resolver: %q, timeout: 2s}\n", dir, dns.Addr()) + extraYAML
	cfg, err := rules.Parse("milter-test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	logs := &logbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	res, err := resolver.New(resolver.Config{Server: cfg.DNS.Resolver, Timeout: cfg.DNS.Timeout, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	deps := &rules.Deps{Resolver: res, Log: log}
	t.Cleanup(func() { deps.Close() })
	chain, err := rules.BuildChain(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	store, err := quarantine.OpenDir(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	mc := Config{
		Chain:            func() *filters.Chain { return chain },
		Holder:           quarantine.Holder{Store: store},
		QuarantineAction: QuarantineAction(cfg.Milter.QuarantineAction),
		RelayByMTA:       cfg.Milter.RelayControl == rules.MilterRelayMTA,
		SpoolDir:         filepath.Join(dir, "spool"),
		SpoolMemory:      4 << 10,
		MaxMessageBytes:  cfg.MaxMessageBytes,
		Log:              log,
	}
	if edit != nil {
		edit(&mc)
	}
	srv, err := New(mc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return &harness{srv: srv, addr: l.Addr().String(), store: store, dns: dns, logs: logs, spool: mc.SpoolDir}
}

// mta is one SMTP connection at an MTA that asks the milter the way
// Sendmail does: the macros of each stage sent before its command, and the
// same milter connection for every message of the SMTP connection.
type mta struct {
	t      testing.TB
	s      *milterlib.ClientSession
	macros *milterlib.MacroBag
	n      int
}

// client is an MTA's milter client; dial, when not nil, replaces the TCP
// dialer (to record or cut what is sent).
func (h *harness) client(dial milterlib.Dialer) *milterlib.Client {
	opts := []milterlib.Option{milterlib.WithReadTimeout(30 * time.Second), milterlib.WithWriteTimeout(30 * time.Second)}
	if dial != nil {
		opts = append(opts, milterlib.WithDialer(dial))
	}
	return milterlib.NewClient("tcp", h.addr, opts...)
}

// connect opens a milter session for an SMTP client at ip (its verified
// name, or "" for none) that said HELO helo.
func (h *harness) connect(t testing.TB, ip, name, helo string) *mta {
	return h.connectWith(t, h.client(nil), ip, name, helo)
}

func (h *harness) connectWith(t testing.TB, c *milterlib.Client, ip, name, helo string) *mta {
	t.Helper()
	macros := milterlib.NewMacroBag()
	macros.Set(milterlib.MacroMTAFQDN, "mta.example.org")
	macros.Set(milterlib.MacroDaemonName, "MTA-v4")
	if name != "" {
		macros.Set(milterlib.MacroClientName, name)
	} else {
		macros.Set(milterlib.MacroClientName, "["+ip+"]")
	}
	s, err := c.Session(macros)
	if err != nil {
		t.Fatalf("milter session: %v", err)
	}
	m := &mta{t: t, s: s, macros: macros}
	t.Cleanup(func() { s.Close() })
	host := name
	if host == "" {
		host = "[" + ip + "]"
	}
	family := milterlib.FamilyInet
	if strings.Contains(ip, ":") {
		family = milterlib.FamilyInet6
	}
	m.want(s.Conn(host, family, 45678, ip))("connect", milterlib.ActionContinue)
	m.want(s.Helo(helo))("HELO", milterlib.ActionContinue)
	return m
}

// want checks that a command was answered with the action type wanted.
func (m *mta) want(act *milterlib.Action, err error) func(what string, typ milterlib.ActionType) *milterlib.Action {
	return func(what string, typ milterlib.ActionType) *milterlib.Action {
		m.t.Helper()
		if err != nil {
			m.t.Fatalf("%s: %v", what, err)
		}
		if act.Type != typ {
			m.t.Fatalf("%s: got %v, want action %d", what, act, typ)
		}
		return act
	}
}

// mail starts a message: the MTA's queue id (i) and the authenticated user
// ({auth_authen}, "" for none) are the MAIL stage's macros.
func (m *mta) mail(from, args, authUser string) *milterlib.Action {
	m.t.Helper()
	m.n++
	m.macros.Set(milterlib.MacroQueueId, fmt.Sprintf("MTAQ%04d", m.n))
	if authUser != "" {
		m.macros.Set(milterlib.MacroAuthAuthen, authUser)
	}
	act, err := m.s.Mail(from, args)
	if err != nil {
		m.t.Fatalf("MAIL: %v", err)
	}
	return act
}

func (m *mta) rcpt(to string) *milterlib.Action {
	m.t.Helper()
	act, err := m.s.Rcpt(to, "")
	if err != nil {
		m.t.Fatalf("RCPT: %v", err)
	}
	return act
}

// data sends a message (LF or CRLF line ends) the way an MTA does: each
// header field with its value as written, then the body in chunks.
func (m *mta) data(msg string) ([]milterlib.ModifyAction, *milterlib.Action) {
	m.t.Helper()
	m.want(m.s.DataStart())("DATA", milterlib.ActionContinue)
	fields, body := splitMessage(msg)
	lead := m.s.ProtocolOption(milterlib.OptHeaderLeadingSpace)
	for _, f := range fields {
		v := f.value
		if !lead {
			v = strings.TrimPrefix(v, " ")
		}
		m.want(m.s.HeaderField(f.name, v, nil))("header "+f.name, milterlib.ActionContinue)
	}
	m.want(m.s.HeaderEnd())("end of header", milterlib.ActionContinue)
	mods, act, err := m.s.BodyReadFrom(strings.NewReader(body))
	if err != nil {
		m.t.Fatalf("body: %v", err)
	}
	return mods, act
}

// abort is the MTA's RSET.
func (m *mta) abort() {
	m.t.Helper()
	if err := m.s.Abort(nil); err != nil {
		m.t.Fatalf("abort: %v", err)
	}
}

// splitMessage splits a message into its header fields (values as
// written, folds kept with LF) and its body with CRLF line ends.
func splitMessage(msg string) ([]field, string) {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	head, body, _ := strings.Cut(msg, "\n\n")
	var fields []field
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		line := sc.Text()
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(fields) > 0 {
			fields[len(fields)-1].value += "\n" + line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		fields = append(fields, field{name, value})
	}
	return fields, strings.ReplaceAll(body, "\n", "\r\n")
}

// headerChanges sorts the modifications of a message: the fields deleted
// (name/index) and the fields added (name: value, unfolded).
func headerChanges(mods []milterlib.ModifyAction) (deleted []string, added map[string]string, quarantined string) {
	added = map[string]string{}
	for _, a := range mods {
		switch a.Type {
		case milterlib.ActionChangeHeader:
			if a.HeaderValue == "" {
				deleted = append(deleted, fmt.Sprintf("%s/%d", a.HeaderName, a.HeaderIndex))
			} else {
				added[a.HeaderName] = unfold(a.HeaderValue)
			}
		case milterlib.ActionInsertHeader, milterlib.ActionAddHeader:
			added[a.HeaderName] = unfold(a.HeaderValue)
		case milterlib.ActionQuarantine:
			quarantined = a.Reason
		}
	}
	return deleted, added, quarantined
}

func unfold(v string) string {
	return strings.TrimSpace(filters.Unfold([]byte(v)))
}

// readAll reads a quarantined message.
func readAll(t testing.TB, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
