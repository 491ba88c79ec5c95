package rules

import (
	"os"
	"time"
)

// Built-in defaults of the SPEC's keys. Areas with their own keys add
// theirs with registerDefaults.
const (
	DefaultListen          = "127.0.0.1:2525"
	DefaultBackend         = "127.0.0.1:25"
	DefaultDataDir         = "./mailguard-data"
	DefaultMaxMessageBytes = 26214400
	DefaultMaxRecipients   = 100
)

var defaulters []func(*Config)

// registerDefaults adds a function that fills an area's keys in a fresh
// Config, before the file is decoded over it. Call it from an init function
// in the area's rules/config_<area>.go:
//
//	func init() {
//		registerDefaults(func(c *Config) { c.Classifier = ClassifierConfig{MinTokens: 5} })
//		registerValidator(func(c *Config, v *validator) {
//			if c.Classifier.MinTokens < 1 {
//				v.Errorf("classifier.min_tokens", "must be at least 1, got %d", c.Classifier.MinTokens)
//			}
//		})
//	}
//
// A key missing from the file keeps its default; a mapping in the file sets
// only the keys it names; a list in the file (even an empty one) replaces the
// default list.
func registerDefaults(f func(*Config)) { defaulters = append(defaulters, f) }

// Default returns the built-in configuration: what every command runs on
// without -config. Each call returns a new value, safe to modify.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || !validDomain(host) {
		host = "localhost"
	}
	c := &Config{
		Hostname:        host,
		Listen:          DefaultListen,
		Backend:         DefaultBackend,
		DataDir:         DefaultDataDir,
		MaxMessageBytes: DefaultMaxMessageBytes,
		MaxRecipients:   DefaultMaxRecipients,
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
			MaxConnections:      500,
			MaxConnectionsPerIP: 20,
			MaxLineLength:       2000,
			CommandTimeout:      5 * time.Minute,
			DataTimeout:         10 * time.Minute,
			BackendTimeout:      2 * time.Minute,
			ShutdownTimeout:     30 * time.Second,
		},
	}
	for _, f := range defaulters {
		f(c)
	}
	return c
}
