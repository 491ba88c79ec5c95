package rules

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// fixtureDir holds the files configurations in these tests point at: a
// certificate and key, users and recipients files good and bad, and a
// plain file where a directory belongs. Cases write it as $D.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rules-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := writeFixtures(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeFixtures(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example.org"},
		DNSNames:     []string{"mx.example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		return err
	}
	files := map[string]string{
		"cert.pem":           string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"key.pem":            string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})),
		"garbage.pem":        "not a certificate\n",
		"users.txt":          "# user:bcrypt\n\nalice:" + string(hash) + "\n",
		"bad-users.txt":      "alice:" + string(hash) + "\nbob\nbob:plaintext\n",
		"recipients.txt":     "# local users\npostmaster@example.org\n@catchall.example.org\n",
		"bad-recipients.txt": "postmaster@example.org\njust-a-name\n",
		"plain-file":         "x",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// parse parses text (with $D standing for the fixture directory) and
// returns the problems as "LINE: KEY: MESSAGE".
func parse(t *testing.T, text string) (*Config, []string) {
	t.Helper()
	text = strings.ReplaceAll(text, "$D", fixtureDir)
	cfg, err := Parse("mailguard.yaml", []byte(text))
	if err == nil {
		if cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		return cfg, nil
	}
	if cfg != nil {
		t.Errorf("Parse returned a config with an error")
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T (%v), want *Errors", err, err)
	}
	var got []string
	for _, p := range errs.Problems {
		if p.File != "mailguard.yaml" {
			t.Errorf("problem %v names file %q", p, p.File)
		}
		got = append(got, fmt.Sprintf("%d: %s: %s", p.Line, p.Key, p.Msg))
	}
	return nil, got
}

// matchProblems checks that got has one problem per want, in order, each
// beginning with its want ("LINE: KEY: start of message").
func matchProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("problems:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// problemCase is a configuration text and one problem it must produce:
// about key, with msg in its message.
type problemCase struct{ yaml, key, msg string }

// expectProblems parses each case's text and wants its problem among those
// reported, whatever else is; line, when not 0, is the line it must name.
func expectProblems(t *testing.T, line int, cases []problemCase) {
	t.Helper()
	for _, tt := range cases {
		_, err := Parse("test.yaml", []byte(tt.yaml))
		var errs *Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: got %v, want problems", tt.yaml, err)
			continue
		}
		found := false
		for _, p := range errs.Problems {
			if p.Key == tt.key && strings.Contains(p.Msg, tt.msg) && (line == 0 || p.Line == line) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems %v, want one about %s (line %d) saying %q", tt.yaml, errs.Problems, tt.key, line, tt.msg)
		}
	}
}

func TestDefaults(t *testing.T) {
	host, _ := os.Hostname()
	want := &Config{
		Hostname:        host,
		Listen:          "127.0.0.1:2525",
		Backend:         "127.0.0.1:25",
		DataDir:         "./mailguard-data",
		MaxMessageBytes: 26214400,
		MaxRecipients:   100,
		Domains:         []string{},
		RelayNetworks:   []string{"127.0.0.0/8", "::1/128"},
		Block:           ListConfig{Senders: []string{}, Networks: []string{}},
		Allow:           ListConfig{Senders: []string{}, Networks: []string{}},
		DNS:             DNSConfig{Timeout: 2 * time.Second},
		DNSBL:           []ListZone{},
		RHSBL:           []ListZone{},
		SenderVerify:    true,
		Thresholds:      Thresholds{Tag: 5, Quarantine: 10, Reject: 15},
		Limits: Limits{
			MaxConnections: 500, MaxConnectionsPerIP: 20, MaxLineLength: 2000,
			CommandTimeout: 5 * time.Minute, DataTimeout: 10 * time.Minute,
			BackendTimeout: 2 * time.Minute, ShutdownTimeout: 30 * time.Second,
		},
	}
	for _, f := range defaulters {
		f(want)
	}
	for name, load := range map[string]func() (*Config, error){
		"Default":      func() (*Config, error) { return Default(), nil },
		"Load empty":   func() (*Config, error) { return Load("") },
		"empty file":   func() (*Config, error) { return Parse("x.yaml", nil) },
		"comments":     func() (*Config, error) { return Parse("x.yaml", []byte("# nothing set\n\n")) },
		"empty doc":    func() (*Config, error) { return Parse("x.yaml", []byte("---\n")) },
		"empty braces": func() (*Config, error) { return Parse("x.yaml", []byte("{}\n")) },
	} {
		got, err := load()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	// Each call is a fresh value: changing one does not change the next.
	a := Default()
	a.RelayNetworks[0] = "changed"
	a.Domains = append(a.Domains, "x")
	if b := Default(); b.RelayNetworks[0] != "127.0.0.0/8" || len(b.Domains) != 0 {
		t.Errorf("Default shares state between calls: %v %v", b.RelayNetworks, b.Domains)
	}
}

type keyCase struct {
	name  string
	yaml  string
	check func(*Config) bool // for a valid file: is the value what was set?
	want  []string           // for a bad file: the problems
}

func runCases(t *testing.T, cases []keyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := parse(t, tc.yaml)
			if tc.want == nil {
				if problems != nil {
					t.Fatalf("valid file refused:\n\t%s", strings.Join(problems, "\n\t"))
				}
				if tc.check != nil && !tc.check(cfg) {
					t.Errorf("value not as set: %+v", cfg)
				}
				return
			}
			matchProblems(t, problems, tc.want)
		})
	}
}

func TestTopLevelScalars(t *testing.T) {
	runCases(t, []keyCase{
		{name: "hostname", yaml: "hostname: mx.example.org", check: func(c *Config) bool { return c.Hostname == "mx.example.org" }},
		{name: "hostname single label", yaml: "hostname: gateway", check: func(c *Config) bool { return c.Hostname == "gateway" }},
		{name: "hostname empty", yaml: "hostname: ''", want: []string{`1: hostname: must be a domain name; "" is empty`}},
		{name: "hostname no value keeps default", yaml: "hostname:", check: func(c *Config) bool { return c.Hostname == Default().Hostname }},
		{name: "hostname double dot", yaml: "hostname: mx..example.org", want: []string{`1: hostname: must be a domain name; "mx..example.org" has an empty label`}},
		{name: "hostname trailing dot", yaml: "hostname: mx.example.org.", want: []string{`1: hostname: must be a domain name; "mx.example.org." ends with a dot`}},
		{name: "hostname space", yaml: "hostname: mx example", want: []string{`1: hostname: must be a domain name; "mx example" holds ' '`}},
		{name: "hostname hyphen", yaml: "hostname: -mx.example.org", want: []string{`1: hostname: must be a domain name; "-mx.example.org" has a label "-mx" that begins or ends with a hyphen`}},
		{name: "hostname unicode", yaml: "hostname: mx.bücher.de", want: []string{`1: hostname: must be a domain name; "mx.bücher.de" is not ASCII`}},
		{name: "hostname long label", yaml: "hostname: " + strings.Repeat("a", 64) + ".org", want: []string{`1: hostname: must be a domain name; "aaaa`}},
		{name: "hostname list", yaml: "hostname: [a, b]", want: []string{`1: hostname: must be a string, got a list`}},

		{name: "listen", yaml: "listen: 0.0.0.0:25", check: func(c *Config) bool { return c.Listen == "0.0.0.0:25" }},
		{name: "listen any host", yaml: "listen: ':25'", check: func(c *Config) bool { return c.Listen == ":25" }},
		{name: "listen ipv6", yaml: "listen: '[::1]:2525'", check: func(c *Config) bool { return c.Listen == "[::1]:2525" }},
		{name: "listen port 0", yaml: "listen: 127.0.0.1:0", check: func(c *Config) bool { return c.Listen == "127.0.0.1:0" }},
		{name: "listen empty", yaml: "listen: ''", want: []string{`1: listen: must be set to host:port`}},
		{name: "listen no port", yaml: "listen: 127.0.0.1", want: []string{`1: listen: "127.0.0.1" is not host:port`}},
		{name: "listen named port", yaml: "listen: 127.0.0.1:smtp", want: []string{`1: listen: "127.0.0.1:smtp" has port "smtp", not a number`}},
		{name: "listen port range", yaml: "listen: 127.0.0.1:70000", want: []string{`1: listen: "127.0.0.1:70000" has port 70000, not 0-65535`}},
		{name: "listen bad host", yaml: "listen: bad_host!:25", want: []string{`1: listen: "bad_host!:25" has a host that holds '!'`}},

		{name: "backend", yaml: "backend: mta.internal:10025", check: func(c *Config) bool { return c.Backend == "mta.internal:10025" }},
		{name: "backend ip", yaml: "backend: 192.0.2.25:25", check: func(c *Config) bool { return c.Backend == "192.0.2.25:25" }},
		{name: "backend empty", yaml: "backend: ''", want: []string{`1: backend: must be set to the MTA's host:port`}},
		{name: "backend no host", yaml: "backend: ':25'", want: []string{`1: backend: ":25" has no host`}},
		{name: "backend port 0", yaml: "backend: 127.0.0.1:0", want: []string{`1: backend: "127.0.0.1:0" has port 0, not 1-65535`}},
		{name: "backend no port", yaml: "backend: mta", want: []string{`1: backend: "mta" is not host:port`}},

		{name: "data_dir", yaml: "data_dir: /var/lib/mailguard", check: func(c *Config) bool {
			return c.DataDir == "/var/lib/mailguard" && c.DataPath("tokens.db") == "/var/lib/mailguard/tokens.db"
		}},
		{name: "data_dir existing", yaml: "data_dir: $D", check: func(c *Config) bool { return c.DataDir == fixtureDir }},
		{name: "data_dir empty", yaml: "data_dir: ''", want: []string{`1: data_dir: must be set`}},
		{name: "data_dir file", yaml: "data_dir: $D/plain-file", want: []string{`1: data_dir: "` + fixtureDir + `/plain-file" exists and is not a directory`}},

		{name: "max_message_bytes", yaml: "max_message_bytes: 1048576", check: func(c *Config) bool { return c.MaxMessageBytes == 1048576 }},
		{name: "max_message_bytes zero", yaml: "max_message_bytes: 0", want: []string{`1: max_message_bytes: must be more than 0, got 0`}},
		{name: "max_message_bytes negative", yaml: "max_message_bytes: -5", want: []string{`1: max_message_bytes: must be more than 0, got -5`}},
		{name: "max_message_bytes word", yaml: "max_message_bytes: 25MB", want: []string{`1: max_message_bytes: must be a whole number, got "25MB"`}},
		{name: "max_message_bytes fraction", yaml: "max_message_bytes: 1.5", want: []string{`1: max_message_bytes: must be a whole number, got "1.5"`}},

		{name: "max_recipients", yaml: "max_recipients: 1", check: func(c *Config) bool { return c.MaxRecipients == 1 }},
		{name: "max_recipients zero", yaml: "max_recipients: 0", want: []string{`1: max_recipients: must be at least 1, got 0`}},
		{name: "max_recipients word", yaml: "max_recipients: many", want: []string{`1: max_recipients: must be a whole number, got "many"`}},

		{name: "sender_verify off", yaml: "sender_verify: false", check: func(c *Config) bool { return !c.SenderVerify }},
		{name: "sender_verify bad", yaml: "sender_verify: maybe", want: []string{`1: sender_verify: must be true or false, got "maybe"`}},
		{name: "sender_callout on", yaml: "sender_callout: true", check: func(c *Config) bool { return c.SenderCallout }},
		{name: "sender_callout bad", yaml: "sender_callout: 2", want: []string{`1: sender_callout: must be true or false, got "2"`}},

		{name: "store redis", yaml: "store: redis://127.0.0.1:6379/2", check: func(c *Config) bool { return c.Store == "redis://127.0.0.1:6379/2" }},
		{name: "store redis password", yaml: "store: redis://:pw@redis.internal/0", check: func(c *Config) bool { return c.Store != "" }},
		{name: "store rediss sentinel", yaml: "store: rediss://:pw@s1:26379/0?master_name=mx&addr=s2:26379", check: func(c *Config) bool { return c.Store != "" }},
		{name: "store unknown parameter", yaml: "store: redis://h/0?colour=blue", want: []string{`1: store: must be empty (the embedded store) or redis://host:port/db: "redis://h/0?colour=blue": redis: unexpected option: colour`}},
		{name: "store other scheme", yaml: "store: mysql://db/x", want: []string{`1: store: must be empty (the embedded store) or redis://host:port/db: "mysql://db/x" is not redis://host:port/db`}},
		{name: "store no host", yaml: "store: redis://", want: []string{`1: store: must be empty (the embedded store) or redis://host:port/db: "redis://" has no host`}},
		{name: "store bad port", yaml: "store: redis://h:99999/0", want: []string{`1: store: must be empty (the embedded store) or redis://host:port/db: "redis://h:99999/0": port "99999" is not 1-65535`}},
		{name: "store bad db", yaml: "store: redis://h:6379/x", want: []string{`1: store: must be empty (the embedded store) or redis://host:port/db: "redis://h:6379/x": database "x" is not a number 0 or more`}},
		{name: "store path", yaml: "store: /var/lib/x", want: []string{`1: store: must be empty`}},
	})
}

func TestLists(t *testing.T) {
	runCases(t, []keyCase{
		{name: "domains", yaml: "domains: [example.org, Example.NET, mail_in.example.com]", check: func(c *Config) bool {
			return reflect.DeepEqual(c.Domains, []string{"example.org", "Example.NET", "mail_in.example.com"})
		}},
		{name: "domains block style", yaml: "domains:\n  - example.org\n  - example.net\n", check: func(c *Config) bool { return len(c.Domains) == 2 }},
		{name: "domains bad", yaml: "domains:\n  - example.org\n  - bad..org\n  - -x.org\n", want: []string{
			`3: domains[1]: "bad..org" has an empty label`,
			`4: domains[2]: "-x.org" has a label "-x" that begins or ends with a hyphen`,
		}},
		{name: "domains scalar", yaml: "domains: example.org", want: []string{`1: domains: must be a list, got "example.org"`}},
		{name: "domains mapping", yaml: "domains: {a: b}", want: []string{`1: domains: must be a list, got a mapping`}},
		{name: "domains item list", yaml: "domains: [[a]]", want: []string{`1: domains[0]: must be a string, got a list`}},
		{name: "domains item mapping", yaml: "domains:\n  - example.org\n  - {a: b}\n", want: []string{`3: domains[1]: must be a string, got a mapping`}},

		{name: "relay_networks", yaml: "relay_networks: [10.0.0.0/8, 192.0.2.1, '2001:db8::/32', '::1']", check: func(c *Config) bool { return len(c.RelayNetworks) == 4 }},
		{name: "relay_networks empty list overrides", yaml: "relay_networks: []", check: func(c *Config) bool { return c.RelayNetworks != nil && len(c.RelayNetworks) == 0 }},
		{name: "relay_networks no value keeps default", yaml: "relay_networks:", check: func(c *Config) bool { return len(c.RelayNetworks) == 2 }},
		{name: "relay_networks bad", yaml: "relay_networks:\n  - 10.0.0.0/33\n  - localhost\n", want: []string{
			`2: relay_networks[0]: "10.0.0.0/33" is not a network`,
			`3: relay_networks[1]: "localhost" is not a network`,
		}},

		{name: "block", yaml: "block:\n  senders: [spammer@example.com, '@spam.example']\n  networks: [198.51.100.0/24]\n", check: func(c *Config) bool {
			return len(c.Block.Senders) == 2 && c.Block.Networks[0] == "198.51.100.0/24"
		}},
		{name: "block only senders keeps networks default", yaml: "block: {senders: ['@x.example']}", check: func(c *Config) bool {
			return len(c.Block.Senders) == 1 && c.Block.Networks != nil && len(c.Block.Networks) == 0
		}},
		{name: "block.senders bad", yaml: "block:\n  senders:\n    - spam.example\n    - user@\n    - a b@x.org\n", want: []string{
			`3: block.senders[0]: "spam.example" is neither an address (user@example.org) nor a domain (@example.org)`,
			`4: block.senders[1]: "user@" has a domain that is empty`,
			`5: block.senders[2]: "a b@x.org" has a local part with a space`,
		}},
		{name: "block.networks bad", yaml: "block:\n  networks: [300.1.1.1]\n", want: []string{`2: block.networks[0]: "300.1.1.1" is not a network`}},
		{name: "allow", yaml: "allow: {senders: [partner@example.net], networks: ['2001:db8::/48']}", check: func(c *Config) bool {
			return c.Allow.Senders[0] == "partner@example.net" && c.Allow.Networks[0] == "2001:db8::/48"
		}},
		{name: "allow.senders bad", yaml: "allow:\n  senders: ['@']\n", want: []string{`2: allow.senders[0]: "@" has a domain that is empty`}},
		{name: "allow.networks bad", yaml: "allow:\n  networks: ['10.0.0.0/8/8']\n", want: []string{`2: allow.networks[0]: "10.0.0.0/8/8" is not a network`}},
		{name: "allow scalar", yaml: "allow: everyone", want: []string{`1: allow: must be a mapping with the keys senders, networks, got "everyone"`}},
	})
}

func TestFilesAndTLS(t *testing.T) {
	runCases(t, []keyCase{
		{name: "tls", yaml: "tls: {cert: $D/cert.pem, key: $D/key.pem}", check: func(c *Config) bool { return c.TLS.Cert != "" && c.TLS.Key != "" }},
		{name: "tls cert only", yaml: "tls:\n  cert: $D/cert.pem\n", want: []string{`1: tls.key: must be set with tls.cert (both or neither)`}},
		{name: "tls key only", yaml: "tls:\n  key: $D/key.pem\n", want: []string{`1: tls.cert: must be set with tls.key (both or neither)`}},
		{name: "tls unreadable", yaml: "tls:\n  cert: $D/missing.pem\n  key: $D/key.pem\n", want: []string{`2: tls.cert: open ` + fixtureDir + `/missing.pem: no such file or directory`}},
		{name: "tls directory", yaml: "tls:\n  cert: $D\n  key: $D/key.pem\n", want: []string{`2: tls.cert: ` + fixtureDir + ` is not a regular file`}},
		{name: "tls garbage", yaml: "tls:\n  cert: $D/garbage.pem\n  key: $D/key.pem\n", want: []string{`2: tls.cert: cannot load the certificate and key:`}},
		{name: "tls swapped", yaml: "tls:\n  cert: $D/key.pem\n  key: $D/cert.pem\n", want: []string{`2: tls.cert: cannot load the certificate and key:`}},

		{name: "auth", yaml: "tls: {cert: $D/cert.pem, key: $D/key.pem}\nauth: {users_file: $D/users.txt}", check: func(c *Config) bool { return c.Auth.UsersFile != "" }},
		{name: "auth without tls", yaml: "auth:\n  users_file: $D/users.txt\n", want: []string{`2: auth.users_file: AUTH is offered only under TLS: set tls.cert and tls.key too`}},
		{name: "auth unreadable", yaml: "tls: {cert: $D/cert.pem, key: $D/key.pem}\nauth:\n  users_file: $D/none.txt\n", want: []string{`3: auth.users_file: open ` + fixtureDir + `/none.txt: no such file or directory`}},
		{name: "auth bad lines", yaml: "tls: {cert: $D/cert.pem, key: $D/key.pem}\nauth:\n  users_file: $D/bad-users.txt\n", want: []string{
			`3: auth.users_file: ` + fixtureDir + `/bad-users.txt:2: not user:bcrypt-hash`,
			`3: auth.users_file: ` + fixtureDir + `/bad-users.txt:3: user "bob": the hash is not bcrypt`,
		}},
		{name: "auth unknown key", yaml: "auth:\n  users: x\n", want: []string{`2: auth.users: unknown key (did you mean users_file?)`}},

		{name: "recipients file", yaml: "recipients: {file: $D/recipients.txt}\ndomains: [example.org]", check: func(c *Config) bool { return c.Recipients.File != "" && !c.Recipients.Callout }},
		{name: "recipients callout", yaml: "recipients: {callout: true}\ndomains: [example.org]", check: func(c *Config) bool { return c.Recipients.File == "" && c.Recipients.Callout }},
		{name: "recipients unreadable", yaml: "recipients:\n  file: $D/none.txt\ndomains: [example.org]\n", want: []string{`2: recipients.file: open ` + fixtureDir + `/none.txt: no such file or directory`}},
		{name: "recipients directory", yaml: "recipients:\n  file: $D\ndomains: [example.org]\n", want: []string{`2: recipients.file: ` + fixtureDir + ` is not a regular file`}},
		{name: "recipients bad line", yaml: "recipients:\n  file: $D/bad-recipients.txt\ndomains: [example.org]\n", want: []string{`2: recipients.file: ` + fixtureDir + `/bad-recipients.txt:2: "just-a-name" is neither an address`}},
		{name: "recipients callout bad", yaml: "recipients:\n  callout: yes please\n", want: []string{`2: recipients.callout: must be true or false, got "yes please"`}},
	})
}

func TestDNS(t *testing.T) {
	runCases(t, []keyCase{
		{name: "resolver", yaml: "dns: {resolver: '127.0.0.1:5353'}", check: func(c *Config) bool { return c.DNS.Resolver == "127.0.0.1:5353" && c.DNS.Timeout == 2*time.Second }},
		{name: "resolver ipv6", yaml: "dns: {resolver: '[::1]:53'}", check: func(c *Config) bool { return c.DNS.Resolver == "[::1]:53" }},
		{name: "resolver no port", yaml: "dns:\n  resolver: 127.0.0.1\n", want: []string{`2: dns.resolver: "127.0.0.1" is not address:port`}},
		{name: "resolver name", yaml: "dns:\n  resolver: dns.example:53\n", want: []string{`2: dns.resolver: "dns.example:53": a name server is given by its IP address`}},
		{name: "resolver port 0", yaml: "dns:\n  resolver: 127.0.0.1:0\n", want: []string{`2: dns.resolver: "127.0.0.1:0" has port 0, not 1-65535`}},
		{name: "timeout", yaml: "dns: {timeout: 500ms}", check: func(c *Config) bool { return c.DNS.Timeout == 500*time.Millisecond }},
		{name: "timeout compound", yaml: "dns: {timeout: 1m}", check: func(c *Config) bool { return c.DNS.Timeout == time.Minute }},
		{name: "timeout zero", yaml: "dns:\n  timeout: 0s\n", want: []string{`2: dns.timeout: must be more than 0, got 0s`}},
		{name: "timeout negative", yaml: "dns:\n  timeout: -1s\n", want: []string{`2: dns.timeout: must be more than 0, got -1s`}},
		{name: "timeout too long", yaml: "dns:\n  timeout: 5m\n", want: []string{`2: dns.timeout: must be at most 1m0s, got 5m0s`}},
		{name: "timeout no unit", yaml: "dns:\n  timeout: 2\n", want: []string{`2: dns.timeout: must be a duration such as 2s, 500ms, 1m30s or 30d, got "2"`}},
		{name: "timeout word", yaml: "dns:\n  timeout: 2x\n", want: []string{`2: dns.timeout: must be a duration such as 2s, 500ms, 1m30s or 30d, got "2x"`}},
	})
}

func TestZones(t *testing.T) {
	runCases(t, []keyCase{
		{name: "dnsbl", yaml: `
dnsbl:
  - zone: zen.spamhaus.org
    action: reject
    codes: [127.0.0.2, 127.0.0.3]
  - zone: dul.example
    action: score
    weight: 2.5
  - zone: list.dnswl.example
    action: score
    weight: -5
  - zone: bits.example
    mask: 0.0.0.4
`, check: func(c *Config) bool {
			want := []ListZone{
				{Zone: "zen.spamhaus.org", Action: "reject", Codes: []string{"127.0.0.2", "127.0.0.3"}},
				{Zone: "dul.example", Action: "score", Weight: 2.5},
				{Zone: "list.dnswl.example", Action: "score", Weight: -5},
				{Zone: "bits.example", Action: "reject", Mask: "0.0.0.4"}, // action defaults to reject
			}
			return reflect.DeepEqual(c.DNSBL, want)
		}},
		{name: "dnsbl errors", yaml: `
dnsbl:
  - action: reject
  - zone: bad..zone
  - zone: zen.spamhaus.org
    action: rejct
  - zone: ZEN.spamhaus.org
    action: score
  - zone: codes.example
    codes: [10.0.0.2, 127.255.255.254, nonsense]
  - zone: mask.example
    mask: 0.0.0.0
  - zone: both.example
    mask: 4
    codes: [127.0.0.4]
  - zone: wide.example
    mask: 0x1000000
`, want: []string{
			`3: dnsbl[0].zone: must be set (the list's DNS zone, such as zen.spamhaus.org)`,
			`4: dnsbl[1].zone: "bad..zone" has an empty label`,
			`6: dnsbl[2].action: must be reject or score, got "rejct"`,
			`7: dnsbl[3].zone: "ZEN.spamhaus.org" is also dnsbl[2]`,
			`7: dnsbl[3].weight: must be set (not 0) when action is score`,
			`10: dnsbl[4].codes[0]: "10.0.0.2" is not a list answer (an address in 127.0.0.0/8 such as 127.0.0.2)`,
			`10: dnsbl[4].codes[1]: "127.255.255.254" is in 127.255.255.0/24, the lists' "query refused" codes, never a listing`,
			`10: dnsbl[4].codes[2]: "nonsense" is not a list answer`,
			`12: dnsbl[5].mask: "0.0.0.0": a mask of zero matches nothing`,
			`14: dnsbl[6].mask: set codes or mask, not both`,
			`17: dnsbl[7].mask: "0x1000000": a mask is an address such as 0.0.0.4 or a number up to 0xffffff`,
		}},
		{name: "dnsbl weight word", yaml: "dnsbl:\n  - zone: a.example\n    action: score\n    weight: heavy\n", want: []string{
			`4: dnsbl[0].weight: must be a number, got "heavy"`,
		}},
		{name: "dnsbl item scalar", yaml: "dnsbl:\n  - zen.spamhaus.org\n", want: []string{
			`2: dnsbl[0]: must be a mapping with the keys zone, action, weight, codes, mask, got "zen.spamhaus.org"`,
		}},
		{name: "dnsbl unknown nested", yaml: "dnsbl:\n  - zone: a.example\n  - zon: b.example\n", want: []string{
			`3: dnsbl[1].zon: unknown key (did you mean zone?)`,
			`3: dnsbl[1].zone: must be set`,
		}},
		{name: "rhsbl", yaml: "rhsbl:\n  - {zone: dbl.spamhaus.org, action: score, weight: 3}\n", check: func(c *Config) bool {
			return len(c.RHSBL) == 1 && c.RHSBL[0].Zone == "dbl.spamhaus.org" && c.RHSBL[0].Weight == 3
		}},
		{name: "rhsbl errors", yaml: "rhsbl:\n  - zone: dbl.example\n    action: drop\n", want: []string{`3: rhsbl[0].action: must be reject or score, got "drop"`}},
	})
}

func TestThresholds(t *testing.T) {
	runCases(t, []keyCase{
		{name: "all", yaml: "thresholds: {tag: 3, quarantine: 6, reject: 9.5}", check: func(c *Config) bool { return c.Thresholds == Thresholds{3, 6, 9.5} }},
		{name: "one keeps the others", yaml: "thresholds: {tag: 2}", check: func(c *Config) bool { return c.Thresholds == Thresholds{2, 10, 15} }},
		{name: "off", yaml: "thresholds: {quarantine: 0}", check: func(c *Config) bool { return c.Thresholds == Thresholds{5, 0, 15} }},
		{name: "equal", yaml: "thresholds: {tag: 8, quarantine: 8, reject: 8}", check: func(c *Config) bool { return c.Thresholds.Reject == 8 }},
		{name: "null keeps defaults", yaml: "thresholds:", check: func(c *Config) bool { return c.Thresholds == Thresholds{5, 10, 15} }},
		{name: "order", yaml: "thresholds:\n  tag: 12\n  quarantine: 10\n  reject: 11\n", want: []string{
			`3: thresholds.quarantine: is 10, under thresholds.tag (12)`,
			`4: thresholds.reject: is 11, under thresholds.tag (12)`,
		}},
		{name: "order against default", yaml: "thresholds:\n  reject: 7\n", want: []string{`2: thresholds.reject: is 7, under thresholds.quarantine (10)`}},
		{name: "negative", yaml: "thresholds:\n  tag: -1\n", want: []string{`2: thresholds.tag: must be 0 (off) or more, got -1`}},
		{name: "word", yaml: "thresholds:\n  reject: high\n", want: []string{`2: thresholds.reject: must be a number, got "high"`}},
		{name: "unknown", yaml: "thresholds:\n  spam: 3\n", want: []string{`2: thresholds.spam: unknown key`}},
	})
}

func TestListeners(t *testing.T) {
	runCases(t, []keyCase{
		{name: "all on", yaml: "milter: {listen: 127.0.0.1:8891}\nweb: {listen: 127.0.0.1:8080, users_file: testdata/web-users.txt}\nmetrics: {listen: ':9100'}\n", check: func(c *Config) bool {
			return c.Milter.Listen == "127.0.0.1:8891" && c.Web.Listen == "127.0.0.1:8080" && c.Metrics.Listen == ":9100"
		}},
		{name: "same port other host", yaml: "listen: 127.0.0.1:25\nmilter: {listen: '127.0.0.2:25'}\n", check: func(c *Config) bool { return true }},
		{name: "port 0 twice", yaml: "listen: 127.0.0.1:0\nweb: {listen: '127.0.0.1:0', users_file: testdata/web-users.txt}\n", check: func(c *Config) bool { return true }},
		{name: "milter bad", yaml: "milter:\n  listen: 8891\n", want: []string{`2: milter.listen: "8891" is not host:port`}},
		{name: "web bad", yaml: "web:\n  listen: localhost:http\n  users_file: testdata/web-users.txt\n", want: []string{`2: web.listen: "localhost:http" has port "http", not a number`}},
		{name: "metrics bad", yaml: "metrics:\n  listen: '127.0.0.1:99999'\n", want: []string{`2: metrics.listen: "127.0.0.1:99999" has port 99999, not 0-65535`}},
		{name: "clash", yaml: "listen: 127.0.0.1:2525\nweb:\n  listen: 127.0.0.1:2525\n  users_file: testdata/web-users.txt\n", want: []string{`3: web.listen: "127.0.0.1:2525" is also listen`}},
		{name: "clash wildcard", yaml: "milter:\n  listen: 127.0.0.1:9000\nmetrics:\n  listen: 0.0.0.0:9000\n", want: []string{`4: metrics.listen: "0.0.0.0:9000" is also milter.listen`}},
		{name: "scalar", yaml: "web: 127.0.0.1:8080\n", want: []string{`1: web: must be a mapping with the keys listen, users_file, tls, secure_cookies, got "127.0.0.1:8080"`}},
	})
}

func TestLimits(t *testing.T) {
	runCases(t, []keyCase{
		{name: "all", yaml: `
limits:
  max_connections: 50
  max_connections_per_ip: 5
  max_line_length: 4096
  command_timeout: 1m
  data_timeout: 3m
  backend_timeout: 30s
  shutdown_timeout: 5s
`, check: func(c *Config) bool {
			return c.Limits == Limits{MaxConnections: 50, MaxConnectionsPerIP: 5, MaxLineLength: 4096, CommandTimeout: time.Minute,
				DataTimeout: 3 * time.Minute, BackendTimeout: 30 * time.Second, ShutdownTimeout: 5 * time.Second,
				AbuseLimits: Default().Limits.AbuseLimits}
		}},
		{name: "one keeps others", yaml: "limits: {max_connections: 42}", check: func(c *Config) bool {
			return c.Limits.MaxConnections == 42 && c.Limits.MaxConnectionsPerIP == 20 && c.Limits.DataTimeout == 10*time.Minute
		}},
		{name: "errors", yaml: `
limits:
  max_connections: 0
  max_connections_per_ip: 0
  max_line_length: 512
  command_timeout: 0s
  data_timeout: -1m
  backend_timeout: soon
  shutdown_timeout: 0s
`, want: []string{
			`3: limits.max_connections: must be at least 1, got 0`,
			`4: limits.max_connections_per_ip: must be at least 1, got 0`,
			`5: limits.max_line_length: must be at least 1000 (RFC 5322 allows lines of 998 octets), got 512`,
			`6: limits.command_timeout: must be more than 0, got 0s`,
			`7: limits.data_timeout: must be more than 0, got -1m0s`,
			`8: limits.backend_timeout: must be a duration such as 2s, 500ms, 1m30s or 30d, got "soon"`,
			`9: limits.shutdown_timeout: must be more than 0, got 0s`,
		}},
		{name: "per ip over total", yaml: "limits:\n  max_connections: 10\n  max_connections_per_ip: 11\n", want: []string{`3: limits.max_connections_per_ip: is 11, over limits.max_connections (10)`}},
		{name: "unknown", yaml: "limits:\n  max_conections: 10\n", want: []string{`2: limits.max_conections: unknown key (did you mean max_connections?)`}},
	})
}

func TestStructure(t *testing.T) {
	runCases(t, []keyCase{
		{name: "unknown top-level", yaml: "hostname: mx.example.org\nbakend: 127.0.0.1:25\nfrobnicate: true\n", want: []string{
			`2: bakend: unknown key (did you mean backend?)`,
			`3: frobnicate: unknown key`,
		}},
		{name: "unknown nested", yaml: "tls:\n  crt: x\ndns:\n  resolvr: 127.0.0.1:53\n", want: []string{
			`2: tls.crt: unknown key (did you mean cert?)`,
			`4: dns.resolvr: unknown key (did you mean resolver?)`,
		}},
		{name: "duplicate key", yaml: "listen: 127.0.0.1:25\nlisten: 127.0.0.1:26\n", want: []string{`2: listen: set twice (first at line 1)`}},
		{name: "duplicate nested", yaml: "dns:\n  timeout: 1s\n  timeout: 2s\n", want: []string{`3: dns.timeout: set twice (first at line 2)`}},
		{name: "syntax unclosed list", yaml: "listen: 127.0.0.1:25\ndomains: [a, b\nbackend: x:25\n", want: []string{`2: : YAML syntax: did not find expected ',' or ']'`}},
		{name: "syntax deep", yaml: "hostname: mx.example.org\nlisten: 127.0.0.1:25\ndomains: [a,\n  b]\ntls:\n  cert: a\n key: b\nbackend: x:25\n", want: []string{`7: : YAML syntax: did not find expected key`}},
		{name: "syntax indentation", yaml: "a: 1\nb: 2\n  c: 3\n", want: []string{`3: : YAML syntax: mapping values are not allowed in this context`}},
		{name: "syntax first line", yaml: "[a\n", want: []string{`1: : YAML syntax:`}},
		{name: "tabs", yaml: "tls:\n\tcert: x\n", want: []string{`2: : YAML syntax:`}},
		{name: "root list", yaml: "- a\n- b\n", want: []string{`1: : the configuration must be a mapping of keys (key: value), got a list`}},
		{name: "root scalar", yaml: "hello\n", want: []string{`1: : the configuration must be a mapping of keys (key: value), got "hello"`}},
		{name: "two documents", yaml: "listen: 127.0.0.1:25\n---\nlisten: 127.0.0.1:26\n", want: []string{`2: : a second YAML document`}},
		{name: "mapping for scalar", yaml: "backend: {host: x}\n", want: []string{`1: backend: must be a string, got a mapping`}},
		{name: "list for mapping", yaml: "tls: [a, b]\n", want: []string{`1: tls: must be a mapping with the keys cert, key, got a list`}},
		{name: "non-scalar key", yaml: "? [a]\n: b\n", want: []string{`1: : a key must be a plain name, got a list`}},
		{name: "anchors and merge", yaml: "x-net: &nets [10.0.0.0/8]\n", want: []string{`1: x-net: unknown key`}},
		{name: "alias", yaml: "relay_networks: &nets [10.0.0.0/8]\nallow:\n  networks: *nets\n", check: func(c *Config) bool {
			return reflect.DeepEqual(c.Allow.Networks, []string{"10.0.0.0/8"})
		}},
		{name: "merge key", yaml: "milter: &l {listen: 127.0.0.1:8891}\nmetrics:\n  <<: *l\n  listen: 127.0.0.1:9100\n", check: func(c *Config) bool {
			return c.Metrics.Listen == "127.0.0.1:9100"
		}},
		{name: "many problems together in file order", yaml: `
listen: nowhere
max_recipients: -1
dnsbl:
  - zone: zen.spamhaus.org
    action: rejct
thresholds: {tag: 20}
unknown: 1
`, want: []string{
			`2: listen: "nowhere" is not host:port`,
			`3: max_recipients: must be at least 1, got -1`,
			`6: dnsbl[0].action: must be reject or score, got "rejct"`,
			`7: thresholds.quarantine: is 10, under thresholds.tag (20)`,
			`7: thresholds.reject: is 15, under thresholds.tag (20)`,
			`8: unknown: unknown key`,
		}},
	})
}

// The problem format is the operator's interface: file:line: key: message.
func TestProblemString(t *testing.T) {
	_, err := Parse("mailguard.yaml", []byte("hostname: mx.example.org\nbackend: x\ndnsbl:\n  - zone: a.example\n    action: rejct\n"))
	want := "mailguard.yaml:2: backend: \"x\" is not host:port\n" +
		"mailguard.yaml:5: dnsbl[0].action: must be reject or score, got \"rejct\""
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if s := (Problem{File: "f.yaml", Msg: "broken"}).String(); s != "f.yaml: broken" {
		t.Errorf("problem without line or key: %q", s)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailguard.yaml")
	if err := os.WriteFile(path, []byte("hostname: mx.example.org\ndomains: [example.org]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "mx.example.org" || cfg.Domains[0] != "example.org" || cfg.Listen != DefaultListen {
		t.Errorf("loaded %+v", cfg)
	}

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	var errs *Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v (%T), want a plain not-exist error", err, err)
	}

	if err := os.WriteFile(path, []byte("listen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if !errors.As(err, &errs) || errs.Problems[0].File != path || errs.Problems[0].Line != 1 {
		t.Errorf("bad file: %v", err)
	}
}

// Load runs again on SIGHUP while the server runs: it must share nothing
// between calls (run with -race).
func TestLoadConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailguard.yaml")
	if err := os.WriteFile(path, []byte("domains: [example.org]\ndnsbl: [{zone: a.example}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Config)
	for range 8 {
		go func() {
			c, err := Load(path)
			if err != nil {
				t.Error(err)
			}
			done <- c
		}()
	}
	var first *Config
	for range 8 {
		c := <-done
		if c == nil {
			continue
		}
		if first != nil && (c == first || &c.DNSBL[0] == &first.DNSBL[0]) {
			t.Error("two loads share a value")
		}
		first = c
		c.DNSBL[0].Zone = "changed"
	}
}

// The example in testdata/mailguard.yaml sets every key the SPEC lists.
func TestExampleFile(t *testing.T) {
	cfg, err := Load("testdata/mailguard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "mx.example.org" || cfg.Recipients.File != "testdata/recipients.txt" || len(cfg.DNSBL) != 2 || cfg.DNSBL[1].Weight != 1.5 {
		t.Errorf("example parsed as %+v", cfg)
	}
}

// The registration hooks let an area add defaults and checks from its own
// file.
func TestRegisteredAreas(t *testing.T) {
	nd, nv := len(defaulters), len(validators)
	defer func() { defaulters, validators = defaulters[:nd], validators[:nv] }()
	registerDefaults(func(c *Config) { c.Metrics.Listen = "127.0.0.1:9100" })
	registerValidator(func(c *Config, v *validator) {
		if c.Metrics.Listen == "127.0.0.1:9999" {
			v.Errorf("metrics.listen", "port 9999 is reserved here")
		}
		if !v.Set("metrics") && c.Metrics.Listen != "127.0.0.1:9100" {
			t.Errorf("registered default not applied: %q", c.Metrics.Listen)
		}
	})
	if c := Default(); c.Metrics.Listen != "127.0.0.1:9100" {
		t.Errorf("Default ignores a registered default: %q", c.Metrics.Listen)
	}
	if _, err := Parse("x.yaml", nil); err != nil {
		t.Error(err)
	}
	_, problems := parse(t, "hostname: mx.example.org\nmetrics:\n  listen: 127.0.0.1:9999\n")
	matchProblems(t, problems, []string{"3: metrics.listen: port 9999 is reserved here"})
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"10.1.2.3/8", "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.0/120", " 198.51.100.0/24 "})
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 192.0.2.1/32 2001:db8::1/128 192.0.2.0/24 198.51.100.0/24]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	_, err = ParsePrefixes([]string{"10.0.0.0/8", "x", "1.2.3.4/40", "fe80::1%eth0"})
	for _, s := range []string{`"x"`, `"1.2.3.4/40"`, `"fe80::1%eth0"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func TestZoneValues(t *testing.T) {
	codes, err := ListZone{Codes: []string{"127.0.0.2", "127.0.0.10"}}.ParseCodes()
	if err != nil || fmt.Sprint(codes) != "[127.0.0.2 127.0.0.10]" {
		t.Errorf("codes %v %v", codes, err)
	}
	for _, tc := range []struct {
		mask string
		want uint32
		ok   bool
		bad  bool
	}{
		{"", 0, false, false},
		{"0.0.0.4", 4, true, false},
		{"127.0.0.12", 12, true, false},
		{"127.0.1.0", 256, true, false},
		{"8", 8, true, false},
		{"0x0c", 12, true, false},
		{"0", 0, false, true},
		{"::1", 0, false, true},
		{"lots", 0, false, true},
	} {
		got, ok, err := ListZone{Mask: tc.mask}.ParseMask()
		if got != tc.want || ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("mask %q: %d %v %v", tc.mask, got, ok, err)
		}
	}
}

func TestEditSuggestions(t *testing.T) {
	keys := []string{"hostname", "listen", "backend", "dnsbl", "rhsbl", "thresholds"}
	for in, want := range map[string]string{"hostnme": "hostname", "Listen": "listen", "dnsbls": "dnsbl", "threshold": "thresholds", "zzz": "", "rbl": "rhsbl", "host": "hostname"} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every key of Config, the areas' own included, decodes: the defaults
// written out as YAML load back to the same configuration.
func TestDefaultsRoundTrip(t *testing.T) {
	want := Default()
	data, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("defaults.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseDurationDays(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "0d", want: 0},
		{in: "2d30m", want: 48*time.Hour + 30*time.Minute},
		{in: "36h", want: 36 * time.Hour},
		{in: "d", bad: true},
		{in: "-1d", bad: true},
		{in: "+1d", bad: true},
		{in: "1.5d", bad: true},
		{in: "1d-1h", bad: true},
		{in: "1dd", bad: true},
		{in: "1d2d", bad: true},
		{in: "99999999d", bad: true},
	} {
		got, err := ParseDuration(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}

func TestDurationInDaysInFile(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte("greylist:\n  enabled: true\n  memory: 30d\n  window: 1d12h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Greylist.Memory != 30*24*time.Hour || cfg.Greylist.Window != 36*time.Hour {
		t.Errorf("memory %v window %v, want 720h and 36h", cfg.Greylist.Memory, cfg.Greylist.Window)
	}
	_, err = Parse("t.yaml", []byte("greylist:\n  memory: 30days\n"))
	if err == nil || !strings.Contains(err.Error(), `greylist.memory: must be a duration such as 2s, 500ms, 1m30s or 30d, got "30days"`) {
		t.Errorf("30days: %v", err)
	}
}
