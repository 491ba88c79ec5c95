package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MilterConfig is the "milter" section: the chain offered to Postfix or
// Sendmail over the milter protocol, beside (or instead of) the SMTP proxy.
type MilterConfig struct {
	// Listen is host:port or unix:/absolute/path; "" is off.
	Listen string `yaml:"listen"`
	// SocketMode is the octal permission of a unix socket ("0660"), so
	// the MTA's group can reach it; unused for host:port.
	SocketMode string `yaml:"socket_mode"`
	// QuarantineAction is what a quarantined message becomes at the MTA:
	// "discard" (kept in mailguard's quarantine, dropped by the MTA) or
	// "hold" (the milter quarantine action: the MTA keeps it on hold, as
	// Postfix's hold queue does, and mailguard keeps no copy).
	QuarantineAction string `yaml:"quarantine_action"`
	// RelayControl is who decides which recipients may be relayed: "mta"
	// (the MTA's own restrictions, already applied when the milter hears a
	// recipient) or "mailguard" (domains and relay_networks, as the proxy
	// does). The relay tricks are refused either way.
	RelayControl string `yaml:"relay_control"`
}

// The values of the milter section's choices.
const (
	MilterQuarantineDiscard = "discard"
	MilterQuarantineHold    = "hold"
	MilterRelayMTA          = "mta"
	MilterRelayMailguard    = "mailguard"
	// DefaultMilterSocketMode lets the socket's owner and group (the MTA's
	// user, added to mailguard's group) connect.
	DefaultMilterSocketMode = "0660"
)

func init() {
	registerDefaults(func(c *Config) {
		c.Milter = MilterConfig{
			SocketMode:       DefaultMilterSocketMode,
			QuarantineAction: MilterQuarantineDiscard,
			RelayControl:     MilterRelayMTA,
		}
	})
	registerValidator(validateMilter)
}

// MilterUnixPath returns the socket path of a unix:/path listen address.
func MilterUnixPath(listen string) (path string, ok bool) {
	return strings.CutPrefix(listen, "unix:")
}

// ParseSocketMode reads an octal permission such as "0660".
func ParseSocketMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("%q is not an octal permission such as 0660", s)
	}
	return os.FileMode(n), nil
}

// checkMilterListen checks milter.listen: host:port as the other
// listeners, or unix: and an absolute path in an existing directory.
func checkMilterListen(v *validator, addr string) {
	path, ok := MilterUnixPath(addr)
	if !ok {
		if addr != "" && hostPortProblem(addr, true) == "is not host:port" {
			v.Errorf("milter.listen", "%q is not host:port or unix:/path", addr)
			return
		}
		checkListener(v, "milter.listen", addr, false)
		return
	}
	switch {
	case !filepath.IsAbs(path):
		v.Errorf("milter.listen", "%q: the socket path must be absolute (unix:/run/mailguard/milter.sock)", addr)
	default:
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			v.Errorf("milter.listen", "%q: directory %s does not exist", addr, filepath.Dir(path))
		} else if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket == 0 {
			v.Errorf("milter.listen", "%q: %s exists and is not a socket", addr, path)
		}
	}
}

func validateMilter(c *Config, v *validator) {
	m := c.Milter
	if _, err := ParseSocketMode(m.SocketMode); err != nil {
		v.Errorf("milter.socket_mode", "%v", err)
	}
	switch m.QuarantineAction {
	case MilterQuarantineDiscard, MilterQuarantineHold:
	default:
		v.Errorf("milter.quarantine_action", "must be %s or %s, got %q", MilterQuarantineDiscard, MilterQuarantineHold, m.QuarantineAction)
	}
	switch m.RelayControl {
	case MilterRelayMTA, MilterRelayMailguard:
	default:
		v.Errorf("milter.relay_control", "must be %s or %s, got %q", MilterRelayMTA, MilterRelayMailguard, m.RelayControl)
	}
}
