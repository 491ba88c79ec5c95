package rules

// LogConfig is the "log" section: how serve writes its log on stderr.
type LogConfig struct {
	// Format is "text" (log/slog's key=value lines) or "json" (one JSON
	// object a line).
	Format string `yaml:"format"`
	// Level is the least severe level written: debug, info, warn or
	// error. debug adds each filter's detail (DNS list answers, the
	// classifier's clues, SPF/DKIM/DMARC results).
	Level string `yaml:"level"`
}

// Defaults of the log section.
const (
	DefaultLogFormat = "text"
	DefaultLogLevel  = "info"
)

func init() {
	registerDefaults(func(c *Config) { c.Log = LogConfig{Format: DefaultLogFormat, Level: DefaultLogLevel} })
	registerValidator(validateLog)
}

func validateLog(c *Config, v *validator) {
	switch c.Log.Format {
	case "text", "json":
	default:
		v.Errorf("log.format", "must be text or json, got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.Errorf("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
}
