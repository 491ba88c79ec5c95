package rules

import (
	"net"
	"net/netip"
	"strings"
)

// DebugConfig is the "debug" section: the Go runtime's profiler
// (net/http/pprof under /debug/pprof/) for operators and the load
// benchmark. Off by default. Profiles show message contents in memory and
// let a client burn CPU, so the listener is refused anywhere but the
// loopback interface.
type DebugConfig struct {
	// Listen is a loopback host:port (127.0.0.1:6060, [::1]:6060,
	// localhost:6060); empty turns the profiler off.
	Listen string `yaml:"listen"`
}

func init() { registerValidator(validateDebug) }

func validateDebug(c *Config, v *validator) {
	addr := c.Debug.Listen
	if addr == "" {
		return
	}
	if p := hostPortProblem(addr, true); p != "" {
		v.Errorf("debug.listen", "%q %s", addr, p)
		return
	}
	host, _, _ := net.SplitHostPort(addr)
	if a, err := netip.ParseAddr(host); (err == nil && a.IsLoopback()) || strings.EqualFold(host, "localhost") {
		return
	}
	v.Errorf("debug.listen", "%q must be a loopback address (127.0.0.1, ::1 or localhost): the profiler must not be reachable from the network", addr)
}
