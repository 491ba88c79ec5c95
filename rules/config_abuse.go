package rules

import (
	"net/netip"
	"time"

	"mailguard/proxy"
)

// AbuseLimits are the limits section's keys against floods and abusive
// clients (see docs/abuse.md); relay_networks and allow.networks pass them
// all.
type AbuseLimits struct {
	// MaxConnectionsPerNetwork bounds connections from one /24 (IPv4) or
	// /64 (IPv6).
	MaxConnectionsPerNetwork int `yaml:"max_connections_per_network"`
	// SessionTimeout bounds a whole session; StressTimeout is the command
	// deadline while more than 80% of max_connections are in use.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	StressTimeout  time.Duration `yaml:"stress_timeout"`
	// MaxErrors refused or malformed commands end a session (421 4.7.0);
	// after SoftErrors each error reply waits ErrorSleep more.
	MaxErrors  int           `yaml:"max_errors"`
	SoftErrors int           `yaml:"soft_errors"`
	ErrorSleep time.Duration `yaml:"error_sleep"`
	// GreetDelay is the pregreet test's delay (0s is off); GreetTTL how
	// long a client that passed is greeted at once.
	GreetDelay time.Duration `yaml:"greet_delay"`
	GreetTTL   time.Duration `yaml:"greet_ttl"`
	// Rates per client address: connections a minute, messages,
	// recipients and AUTH failures an hour.
	ConnectionRate  int `yaml:"connection_rate"`
	MessageRate     int `yaml:"message_rate"`
	RecipientRate   int `yaml:"recipient_rate"`
	AuthFailureRate int `yaml:"auth_failure_rate"`
	// MinDataRate is the least rate, in bytes a second, at which a
	// message must arrive once its data timeout is spent (Postfix's
	// smtpd_min_data_rate).
	MinDataRate int `yaml:"min_data_rate"`
}

// DefaultGreetDelay is limits.greet_delay's default, postscreen's
// postscreen_greet_wait order of magnitude.
const DefaultGreetDelay = 2 * time.Second

func init() {
	registerDefaults(func(c *Config) {
		c.Limits.AbuseLimits = AbuseLimits{
			MaxConnectionsPerNetwork: proxy.DefaultMaxConnectionsPerNetwork,
			SessionTimeout:           proxy.DefaultSessionTimeout,
			StressTimeout:            proxy.DefaultStressTimeout,
			MaxErrors:                proxy.DefaultMaxErrors,
			SoftErrors:               proxy.DefaultSoftErrors,
			ErrorSleep:               proxy.DefaultErrorSleep,
			GreetDelay:               DefaultGreetDelay,
			GreetTTL:                 proxy.DefaultGreetTTL,
			ConnectionRate:           proxy.DefaultConnectionRate,
			MessageRate:              proxy.DefaultMessageRate,
			RecipientRate:            proxy.DefaultRecipientRate,
			AuthFailureRate:          proxy.DefaultAuthFailureRate,
			MinDataRate:              proxy.DefaultMinDataRate,
		}
	})
	registerValidator(validateAbuse)
}

func validateAbuse(c *Config, v *validator) {
	a := &c.Limits.AbuseLimits
	for key, n := range map[string]int{
		"limits.max_connections_per_network": a.MaxConnectionsPerNetwork,
		"limits.max_errors":                  a.MaxErrors,
		"limits.soft_errors":                 a.SoftErrors,
		"limits.connection_rate":             a.ConnectionRate,
		"limits.message_rate":                a.MessageRate,
		"limits.recipient_rate":              a.RecipientRate,
		"limits.auth_failure_rate":           a.AuthFailureRate,
		"limits.min_data_rate":               a.MinDataRate,
	} {
		if n < 1 {
			v.Errorf(key, "must be at least 1, got %d", n)
		}
	}
	if a.SoftErrors >= 1 && a.MaxErrors >= 1 && a.SoftErrors > a.MaxErrors {
		v.Errorf("limits.soft_errors", "is %d, over limits.max_errors (%d)", a.SoftErrors, a.MaxErrors)
	}
	checkDuration(v, "limits.session_timeout", a.SessionTimeout, 0)
	checkDuration(v, "limits.stress_timeout", a.StressTimeout, 0)
	checkDuration(v, "limits.error_sleep", a.ErrorSleep, time.Minute)
	checkDuration(v, "limits.greet_ttl", a.GreetTTL, 0)
	if a.GreetDelay < 0 || a.GreetDelay > time.Minute {
		v.Errorf("limits.greet_delay", "must be between 0s (off) and 1m, got %s", a.GreetDelay)
	}
}

// ProxyAbuse is the proxy's view of a validated configuration's limits;
// the relay and allow-listed networks are exempt.
func (c *Config) ProxyAbuse() proxy.Abuse {
	var nets []netip.Prefix
	for _, s := range append(append([]string{}, c.RelayNetworks...), c.Allow.Networks...) {
		if p, err := ParsePrefix(s); err == nil {
			nets = append(nets, p)
		}
	}
	a := c.Limits.AbuseLimits
	return proxy.Abuse{
		MaxConnectionsPerNetwork: a.MaxConnectionsPerNetwork,
		SessionTimeout:           a.SessionTimeout,
		StressTimeout:            a.StressTimeout,
		ExemptNetworks:           nets,
		MaxErrors:                a.MaxErrors,
		SoftErrors:               a.SoftErrors,
		ErrorSleep:               a.ErrorSleep,
		GreetDelay:               a.GreetDelay,
		GreetTTL:                 a.GreetTTL,
		ConnectionRate:           a.ConnectionRate,
		MessageRate:              a.MessageRate,
		RecipientRate:            a.RecipientRate,
		AuthFailureRate:          a.AuthFailureRate,
		MinDataRate:              a.MinDataRate,
	}
}
