// Package rules turns the YAML configuration into a validated Config and the
// Config into the filter chain (in the order of builders) and the score
// policy. Keys lists every configuration key with its built-in default,
// for serve -help and the documentation.
package rules

import "time"

// Config is the whole configuration file. Every key has a built-in default
// (Default); unknown keys are errors so typos are caught.
type Config struct {
	Hostname        string            `yaml:"hostname"`
	Listen          string            `yaml:"listen"`
	Backend         string            `yaml:"backend"`
	BackendForward  string            `yaml:"backend_forward"`
	DataDir         string            `yaml:"data_dir"`
	MaxMessageBytes int64             `yaml:"max_message_bytes"`
	MaxRecipients   int               `yaml:"max_recipients"`
	Domains         []string          `yaml:"domains"`
	RelayNetworks   []string          `yaml:"relay_networks"`
	TLS             TLSConfig         `yaml:"tls"`
	Auth            AuthConfig        `yaml:"auth"`
	Block           ListConfig        `yaml:"block"`
	Allow           ListConfig        `yaml:"allow"`
	Recipients      RecipientsConfig  `yaml:"recipients"`
	DNS             DNSConfig         `yaml:"dns"`
	DNSBL           []ListZone        `yaml:"dnsbl"`
	RHSBL           []ListZone        `yaml:"rhsbl"`
	SenderVerify    bool              `yaml:"sender_verify"`
	SenderCallout   bool              `yaml:"sender_callout"`
	Thresholds      Thresholds        `yaml:"thresholds"`
	Milter          MilterConfig      `yaml:"milter"`
	Web             WebConfig         `yaml:"web"`
	Metrics         Listener          `yaml:"metrics"`
	Log             LogConfig         `yaml:"log"`
	Store           string            `yaml:"store"`
	Limits          Limits            `yaml:"limits"`
	Checks          ChecksConfig      `yaml:"checks"`
	Verify          VerifyConfig      `yaml:"verify"`
	SenderAuth      SenderAuthConfig  `yaml:"sender_auth"`
	Classifier      ClassifierConfig  `yaml:"classifier"`
	URIBL           []URIBLZone       `yaml:"uribl"`
	URIBLMaxLookups int               `yaml:"uribl_max_lookups"`
	Attachments     AttachmentsConfig `yaml:"attachments"`
	Antivirus       AntivirusConfig   `yaml:"antivirus"`
	Quarantine      QuarantineConfig  `yaml:"quarantine"`
	Debug           DebugConfig       `yaml:"debug"`
	RDNS            RDNSConfig        `yaml:"rdns"`
	Greylist        GreylistConfig    `yaml:"greylist"`
}

// TLSConfig enables STARTTLS when both files are set.
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// AuthConfig enables SMTP AUTH (under TLS only).
type AuthConfig struct {
	UsersFile string `yaml:"users_file"`
	// SendersFile and RejectSenderMismatch: config_senderid.go.
	SendersFile          string `yaml:"senders_file"`
	RejectSenderMismatch bool   `yaml:"reject_sender_mismatch"`
}

// ListConfig is a list of senders (addresses or @domains) and networks.
type ListConfig struct {
	Senders  []string `yaml:"senders"`
	Networks []string `yaml:"networks"`
}

// RecipientsConfig selects recipient verification at RCPT TO.
type RecipientsConfig struct {
	File    string `yaml:"file"`
	Callout bool   `yaml:"callout"`
}

// DNSConfig selects the resolver.
type DNSConfig struct {
	Resolver string        `yaml:"resolver"`
	Timeout  time.Duration `yaml:"timeout"`
}

// ListZone is one DNSBL/DUL or RHSBL zone.
type ListZone struct {
	Zone   string   `yaml:"zone"`
	Action string   `yaml:"action"`
	Weight float64  `yaml:"weight"`
	Codes  []string `yaml:"codes"`
	Mask   string   `yaml:"mask"`
}

// Thresholds map a total score to an action.
type Thresholds struct {
	Tag        float64 `yaml:"tag"`
	Quarantine float64 `yaml:"quarantine"`
	Reject     float64 `yaml:"reject"`
}

// Listener is an optional listening address; "" is off.
type Listener struct {
	Listen string `yaml:"listen"`
}

// Limits bound what one client can make the gateway do.
type Limits struct {
	MaxConnections      int           `yaml:"max_connections"`
	MaxConnectionsPerIP int           `yaml:"max_connections_per_ip"`
	MaxLineLength       int           `yaml:"max_line_length"`
	CommandTimeout      time.Duration `yaml:"command_timeout"`
	DataTimeout         time.Duration `yaml:"data_timeout"`
	BackendTimeout      time.Duration `yaml:"backend_timeout"`
	ShutdownTimeout     time.Duration `yaml:"shutdown_timeout"`
	// AbuseLimits: config_abuse.go.
	AbuseLimits `yaml:",inline"`
}
