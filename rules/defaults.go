package rules

import (
	"os"
	"time"

	"mailguard/proxy"
	"mailguard/resolver"
)

// Built-in defaults of the SPEC's keys. Areas with their own keys add
// theirs with registerDefaults.
// The limits' defaults are the proxy's own, so the proxy used as a library
// and the gateway agree; the DNS timeout is the resolver's.
const (
	DefaultListen          = "127.0.0.1:2525"
	DefaultBackend         = "127.0.0.1:25"
	DefaultDataDir         = "./mailguard-data"
	DefaultMaxMessageBytes = proxy.DefaultMaxMessageBytes
	DefaultMaxRecipients   = proxy.DefaultMaxRecipients
	DefaultShutdownTimeout = 30 * time.Second
)

// DefaultRelayNetworks are the clients that may relay by default: this
// host only.
var DefaultRelayNetworks = []string{"127.0.0.0/8", "::1/128"}

// DefaultThresholds are SpamAssassin's habit: tag at 5, and room above.
var DefaultThresholds = Thresholds{Tag: 5, Quarantine: 10, Reject: 15}

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
		RelayNetworks:   append([]string(nil), DefaultRelayNetworks...),
		Block:           ListConfig{Senders: []string{}, Networks: []string{}},
		Allow:           ListConfig{Senders: []string{}, Networks: []string{}},
		DNS:             DNSConfig{Timeout: resolver.DefaultTimeout},
		DNSBL:           []ListZone{},
		RHSBL:           []ListZone{},
		SenderVerify:    true,
		Thresholds:      Thresholds{Tag: 5, Quarantine: 10, Reject: 15},
		Limits: Limits{
			MaxConnections:      proxy.DefaultMaxConnections,
			MaxConnectionsPerIP: proxy.DefaultMaxConnectionsPerIP,
			MaxLineLength:       proxy.DefaultMaxLineLength,
			CommandTimeout:      proxy.DefaultCommandTimeout,
			DataTimeout:         proxy.DefaultDataTimeout,
			BackendTimeout:      proxy.DefaultBackendTimeout,
			ShutdownTimeout:     DefaultShutdownTimeout,
		},
	}
	for _, f := range defaulters {
		f(c)
	}
	return c
}
