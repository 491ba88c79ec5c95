package rules

import (
	"time"

	"mailguard/filters"
)

// ChecksConfig is the "checks" section: the end-of-data message checks.
type ChecksConfig struct {
	// Malformed sets, for each malformed kind of SPEC.md, whether it
	// rejects (550 5.6.0), scores under its test name, or is off.
	Malformed MalformedConfig `yaml:"malformed"`
	// Scores are the points of each test by name; 0 turns a test off.
	Scores map[string]float64 `yaml:"scores"`
	// DatePast and DateFuture: how far Date: may lie from the arrival time
	// before DATE_IN_PAST or DATE_IN_FUTURE fire.
	DatePast   time.Duration `yaml:"date_past"`
	DateFuture time.Duration `yaml:"date_future"`
	// ManyRecipients: more To and Cc addresses than this fire
	// MANY_RECIPIENTS.
	ManyRecipients int `yaml:"many_recipients"`
	// MIME bounds the walk over a message's parts.
	MIME MIMEConfig `yaml:"mime"`
}

// MalformedConfig holds one mode (reject, score or off) per malformed kind.
type MalformedConfig struct {
	NUL               string `yaml:"nul"`
	LongLine          string `yaml:"long_line"`
	HeaderSyntax      string `yaml:"header_syntax"`
	MissingFrom       string `yaml:"missing_from"`
	DuplicateHeader   string `yaml:"duplicate_header"`
	MultipartBoundary string `yaml:"multipart_boundary"`
}

// MIMEConfig bounds the MIME walk.
type MIMEConfig struct {
	MaxDepth        int   `yaml:"max_depth"`
	MaxParts        int   `yaml:"max_parts"`
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
}

// byKey returns the modes keyed as filters.MalformedKinds names them.
func (m MalformedConfig) byKey() map[string]string {
	return map[string]string{
		"nul":                m.NUL,
		"long_line":          m.LongLine,
		"header_syntax":      m.HeaderSyntax,
		"missing_from":       m.MissingFrom,
		"duplicate_header":   m.DuplicateHeader,
		"multipart_boundary": m.MultipartBoundary,
	}
}

func init() {
	registerDefaults(func(c *Config) {
		r := string(filters.ModeReject)
		c.Checks = ChecksConfig{
			Malformed:      MalformedConfig{NUL: r, LongLine: r, HeaderSyntax: r, MissingFrom: r, DuplicateHeader: r, MultipartBoundary: r},
			Scores:         filters.DefaultCheckWeights(),
			DatePast:       filters.DefaultDatePast,
			DateFuture:     filters.DefaultDateFuture,
			ManyRecipients: filters.DefaultManyRecipients,
			MIME: MIMEConfig{
				MaxDepth:        filters.DefaultMIMEMaxDepth,
				MaxParts:        filters.DefaultMIMEMaxParts,
				MaxDecodedBytes: filters.DefaultMIMEMaxDecoded,
			},
		}
	})
	registerValidator(validateChecks)
}

func validateChecks(c *Config, v *validator) {
	ck := c.Checks
	modes := ck.Malformed.byKey()
	for _, k := range filters.MalformedKinds() {
		switch filters.CheckMode(modes[k]) {
		case filters.ModeReject, filters.ModeScore, filters.ModeOff:
		default:
			v.Errorf("checks.malformed."+k, "must be reject, score or off, got %q", modes[k])
		}
	}
	v.testWeights("checks.scores", "a test of the message checks", ck.Scores, filters.DefaultCheckWeights())
	if ck.DatePast <= 0 {
		v.Errorf("checks.date_past", "must be a duration over 0 (such as 96h), got %v", ck.DatePast)
	}
	if ck.DateFuture <= 0 {
		v.Errorf("checks.date_future", "must be a duration over 0 (such as 96h), got %v", ck.DateFuture)
	}
	if ck.ManyRecipients < 1 {
		v.Errorf("checks.many_recipients", "must be at least 1, got %d", ck.ManyRecipients)
	}
	if ck.MIME.MaxDepth < 1 {
		v.Errorf("checks.mime.max_depth", "must be at least 1, got %d", ck.MIME.MaxDepth)
	}
	if ck.MIME.MaxParts < 1 {
		v.Errorf("checks.mime.max_parts", "must be at least 1, got %d", ck.MIME.MaxParts)
	}
	if ck.MIME.MaxDecodedBytes < 1 {
		v.Errorf("checks.mime.max_decoded_bytes", "must be at least 1, got %d", ck.MIME.MaxDecodedBytes)
	}
}

// checksFilterConfig turns the section into the filter's configuration.
func checksFilterConfig(c *Config) filters.ChecksConfig {
	modes := map[string]filters.CheckMode{}
	for k, m := range c.Checks.Malformed.byKey() {
		modes[k] = filters.CheckMode(m)
	}
	return filters.ChecksConfig{
		Hostname:       c.Hostname,
		Domains:        c.Domains,
		Malformed:      modes,
		Weights:        c.Checks.Scores,
		DatePast:       c.Checks.DatePast,
		DateFuture:     c.Checks.DateFuture,
		ManyRecipients: c.Checks.ManyRecipients,
		MIME: filters.MIMELimits{
			MaxDepth:        c.Checks.MIME.MaxDepth,
			MaxParts:        c.Checks.MIME.MaxParts,
			MaxDecodedBytes: c.Checks.MIME.MaxDecodedBytes,
		},
	}
}
