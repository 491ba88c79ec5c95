// Package dnscheck diagnoses a domain's mail DNS as an administrator would
// with dig: the MX records and the hosts they name (aliases, address
// literals, hosts without an address, reverse DNS of each address), and
// whether the zone's authoritative servers, each asked directly, give the
// same answers.
package dnscheck

import (
	"fmt"
	"io"
	"strings"
)

// Levels of a problem. Errors break or endanger delivery; warnings are
// departures from good practice that some receivers hold against a domain;
// notes are facts worth knowing that are not faults.
const (
	LevelError   = "error"
	LevelWarning = "warning"
	LevelNote    = "note"
)

// Report is what Check found.
type Report struct {
	Domain string `json:"domain"`
	// Zone is the zone the domain lives in (the owner of its SOA).
	Zone string `json:"zone,omitempty"`
	// MX are the mail hosts by preference; with ImplicitMX the domain has
	// no MX and its own name stands in (RFC 5321 section 5.1).
	MX         []MX `json:"mx"`
	ImplicitMX bool `json:"implicit_mx,omitempty"`
	// NullMX is true for a domain that declares it accepts no mail
	// (RFC 7505).
	NullMX      bool         `json:"null_mx,omitempty"`
	NameServers []NameServer `json:"name_servers"`
	Problems    []Problem    `json:"problems"`
}

// MX is one mail host.
type MX struct {
	Preference uint16 `json:"preference"`
	Host       string `json:"host"`
	// CNAMEs are the aliases the host name led through.
	CNAMEs    []string  `json:"cnames,omitempty"`
	Addresses []Address `json:"addresses"`
}

// Address is one address of a mail host and its reverse DNS.
type Address struct {
	IP  string   `json:"ip"`
	PTR []string `json:"ptr"`
	// ForwardConfirmed is true when a PTR name resolves back to IP.
	ForwardConfirmed bool `json:"forward_confirmed"`
	// PTRError is set when the PTR lookup failed (REFUSED, SERVFAIL,
	// timeout): whether there is a PTR is then unknown.
	PTRError string `json:"ptr_error,omitempty"`
	// ForwardError is set when the PTR names could not be resolved back:
	// the PTR is then neither confirmed nor refuted.
	ForwardError string `json:"forward_error,omitempty"`
}

// NameServer is one authoritative server address, asked directly.
type NameServer struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Serial is the zone's SOA serial on this server.
	Serial        uint32   `json:"serial,omitempty"`
	Authoritative bool     `json:"authoritative"`
	MX            []string `json:"mx,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// Problem is one finding.
type Problem struct {
	Level   string `json:"level"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Faulty reports whether an error or a warning was found.
func (r *Report) Faulty() bool {
	for _, p := range r.Problems {
		if p.Level != LevelNote {
			return true
		}
	}
	return false
}

func (r *Report) add(level, code, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Level: level, Code: code, Message: oneLine(fmt.Sprintf(format, args...))})
}

// oneLine joins the lines of a message (errors.Join makes several) with
// "; ", so that each finding stays one line of the report.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var parts []string
	for _, l := range strings.FieldsFunc(s, func(c rune) bool { return c == '\r' || c == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// WriteText writes the report for a terminal: what was found, then the
// problems, then a count.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "domain  %s", r.Domain)
	if r.Zone != "" && r.Zone != r.Domain {
		fmt.Fprintf(&b, " (zone %s)", r.Zone)
	}
	b.WriteString("\n")
	if r.NullMX {
		b.WriteString("MX      0 .  (null MX: the domain accepts no mail)\n")
	}
	for _, mx := range r.MX {
		if r.ImplicitMX {
			fmt.Fprintf(&b, "MX      none; mail goes to %s itself\n", mx.Host)
		} else {
			fmt.Fprintf(&b, "MX      %d %s\n", mx.Preference, mx.Host)
		}
		for _, c := range mx.CNAMEs {
			fmt.Fprintf(&b, "          alias of %s\n", c)
		}
		for _, a := range mx.Addresses {
			ptr := "no PTR"
			switch {
			case a.PTRError != "":
				ptr = "PTR lookup failed (" + oneLine(a.PTRError) + ")"
			case len(a.PTR) > 0:
				ptr = "PTR " + strings.Join(a.PTR, ", ")
				switch {
				case a.ForwardConfirmed:
				case a.ForwardError != "":
					ptr += " (not checked: lookup failed, " + oneLine(a.ForwardError) + ")"
				default:
					ptr += " (does not resolve back)"
				}
			}
			fmt.Fprintf(&b, "          %-39s %s\n", a.IP, ptr)
		}
	}
	for _, ns := range r.NameServers {
		fmt.Fprintf(&b, "NS      %s %s", ns.Name, ns.Address)
		switch {
		case ns.Error != "":
			fmt.Fprintf(&b, "  %s", oneLine(ns.Error))
		default:
			fmt.Fprintf(&b, "  serial %d", ns.Serial)
			if !ns.Authoritative {
				b.WriteString(", not authoritative")
			}
			if len(ns.MX) > 0 {
				fmt.Fprintf(&b, ", MX %s", strings.Join(ns.MX, ", "))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	n := 0
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "%-8s %s [%s]\n", p.Level+":", oneLine(p.Message), p.Code)
		if p.Level != LevelNote {
			n++
		}
	}
	switch n {
	case 0:
		b.WriteString("no problems found\n")
	case 1:
		b.WriteString("1 problem found\n")
	default:
		fmt.Fprintf(&b, "%d problems found\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
