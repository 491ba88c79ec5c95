package rules

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"mailguard/rbl"
	"mailguard/redisconn"
)

// validateCore checks the SPEC's keys. It also fills what a list item
// leaves out (a zone's action), so it runs before the areas' validators.
func validateCore(c *Config, v *validator) {
	if p := domainProblem(c.Hostname); p != "" {
		v.Errorf("hostname", "must be a domain name; %q %s", c.Hostname, p)
	}
	checkListener(v, "listen", c.Listen, true)
	if c.Backend == "" {
		v.Errorf("backend", "must be set to the MTA's host:port")
	} else if p := hostPortProblem(c.Backend, false); p != "" {
		v.Errorf("backend", "%q %s", c.Backend, p)
	}
	if c.DataDir == "" {
		v.Errorf("data_dir", "must be set")
	} else if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
		v.Errorf("data_dir", "%q exists and is not a directory", c.DataDir)
	}
	if c.MaxMessageBytes < 1 {
		v.Errorf("max_message_bytes", "must be more than 0, got %d", c.MaxMessageBytes)
	}
	if c.MaxRecipients < 1 {
		v.Errorf("max_recipients", "must be at least 1, got %d", c.MaxRecipients)
	}
	for i, d := range c.Domains {
		if p := domainProblem(d); p != "" {
			v.Errorf(fmt.Sprintf("domains[%d]", i), "%q %s", d, p)
		}
	}
	checkNetworks(v, "relay_networks", c.RelayNetworks)
	checkTLS(c, v)
	checkAuth(c, v)
	checkList(v, "block", c.Block)
	checkList(v, "allow", c.Allow)
	checkRecipients(c, v)
	if c.DNS.Resolver != "" {
		host, _, err := net.SplitHostPort(c.DNS.Resolver)
		if err != nil {
			v.Errorf("dns.resolver", "%q is not address:port (such as 127.0.0.1:53); empty uses /etc/resolv.conf", c.DNS.Resolver)
		} else if p := hostPortProblem(c.DNS.Resolver, false); p != "" {
			v.Errorf("dns.resolver", "%q %s", c.DNS.Resolver, p)
		} else if _, err := netip.ParseAddr(host); err != nil {
			v.Errorf("dns.resolver", "%q: a name server is given by its IP address, not a name", c.DNS.Resolver)
		}
	}
	checkDuration(v, "dns.timeout", c.DNS.Timeout, time.Minute)
	checkZones(v, "dnsbl", c.DNSBL)
	checkZones(v, "rhsbl", c.RHSBL)
	checkThresholds(c, v)
	checkMilterListen(v, c.Milter.Listen)
	checkListener(v, "web.listen", c.Web.Listen, false)
	checkListener(v, "metrics.listen", c.Metrics.Listen, false)
	checkListenerClash(c, v)
	if c.Store != "" {
		if _, err := redisconn.Options(c.Store); err != nil {
			v.Errorf("store", "must be empty (the embedded store) or redis://host:port/db: %v", err)
		}
	}
	checkLimits(c, v)
}

func checkListener(v *validator, key, addr string, required bool) {
	if addr == "" {
		if required {
			v.Errorf(key, "must be set to host:port")
		}
		return
	}
	if p := hostPortProblem(addr, true); p != "" {
		v.Errorf(key, "%q %s", addr, p)
	}
}

// checkListenerClash catches two services on one address, which would
// otherwise surface only at startup as "address already in use".
func checkListenerClash(c *Config, v *validator) {
	type l struct{ key, addr string }
	all := []l{{"listen", c.Listen}, {"milter.listen", c.Milter.Listen}, {"web.listen", c.Web.Listen}, {"metrics.listen", c.Metrics.Listen}}
	for i := range all {
		for j := 0; j < i; j++ {
			if all[i].addr == "" || all[j].addr == "" || !v.ok(all[i].key) || !v.ok(all[j].key) {
				continue
			}
			if sameListener(all[i].addr, all[j].addr) {
				v.Errorf(all[i].key, "%q is also %s", all[i].addr, all[j].key)
			}
		}
	}
}

func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return h == "" || (err == nil && ip.IsUnspecified())
	}
	return wild(ha) || wild(hb) || strings.EqualFold(ha, hb)
}

func checkNetworks(v *validator, key string, list []string) {
	for i, s := range list {
		if _, err := ParsePrefix(s); err != nil {
			v.Errorf(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
	}
}

func checkList(v *validator, key string, l ListConfig) {
	for i, s := range l.Senders {
		if p := senderProblem(s); p != "" {
			v.Errorf(fmt.Sprintf("%s.senders[%d]", key, i), "%q %s", s, p)
		}
	}
	checkNetworks(v, key+".networks", l.Networks)
}

func checkTLS(c *Config, v *validator) {
	cert, key := c.TLS.Cert, c.TLS.Key
	switch {
	case cert == "" && key == "":
	case cert == "":
		v.Errorf("tls.cert", "must be set with tls.key (both or neither)")
	case key == "":
		v.Errorf("tls.key", "must be set with tls.cert (both or neither)")
	default:
		if err := regularFile(cert); err != nil {
			v.Errorf("tls.cert", "%v", err)
		} else if err := regularFile(key); err != nil {
			v.Errorf("tls.key", "%v", err)
		} else if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			v.Errorf("tls.cert", "cannot load the certificate and key: %v", err)
		}
	}
}

func checkAuth(c *Config, v *validator) {
	f := c.Auth.UsersFile
	if f == "" {
		return
	}
	if c.TLS.Cert == "" || c.TLS.Key == "" {
		v.Errorf("auth.users_file", "AUTH is offered only under TLS: set tls.cert and tls.key too")
	}
	data, err := readListFile(f)
	if err != nil {
		v.Errorf("auth.users_file", "%v", err)
		return
	}
	eachLine(data, func(n int, line string) {
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			v.Errorf("auth.users_file", "%s:%d: not user:bcrypt-hash", f, n)
		default:
			if _, err := bcrypt.Cost([]byte(hash)); err != nil {
				v.Errorf("auth.users_file", "%s:%d: user %q: the hash is not bcrypt (htpasswd -B makes one)", f, n, user)
			}
		}
	})
}

func checkRecipients(c *Config, v *validator) {
	f := c.Recipients.File
	if f == "" {
		return
	}
	data, err := readListFile(f)
	if err != nil {
		v.Errorf("recipients.file", "%v", err)
		return
	}
	eachLine(data, func(n int, line string) {
		if p := senderProblem(line); p != "" {
			v.Errorf("recipients.file", "%s:%d: %q %s", f, n, line, p)
		}
	})
}

// maxListFile bounds the files the configuration names, so that a path
// such as /dev/zero is refused rather than read for ever.
const maxListFile = 256 << 20

func regularFile(path string) error {
	_, err := readFile(path, false)
	return err
}

func readListFile(path string) ([]byte, error) { return readFile(path, true) }

// readFile opens path as the server will (so permissions are checked too)
// and reads it when read is set.
func readFile(path string, read bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxListFile {
		return nil, fmt.Errorf("%s is over %d MiB", path, maxListFile>>20)
	}
	if !read {
		return nil, nil
	}
	return io.ReadAll(io.LimitReader(f, maxListFile))
}

// eachLine calls f on each line of a list file that is not blank or a #
// comment, numbered from 1, without surrounding space.
func eachLine(data []byte, f func(n int, line string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f(n, line)
	}
}

func checkDuration(v *validator, key string, d, max time.Duration) {
	switch {
	case d <= 0:
		v.Errorf(key, "must be more than 0, got %s", d)
	case max > 0 && d > max:
		v.Errorf(key, "must be at most %s, got %s", max, d)
	}
}

func checkZones(v *validator, key string, zones []ListZone) {
	seen := map[string]int{}
	for i := range zones {
		z := &zones[i]
		k := fmt.Sprintf("%s[%d]", key, i)
		if z.Zone == "" {
			v.Errorf(k+".zone", "must be set (the list's DNS zone, such as zen.spamhaus.org)")
		} else if p := domainProblem(z.Zone); p != "" {
			v.Errorf(k+".zone", "%q %s", z.Zone, p)
		} else if j, dup := seen[strings.ToLower(z.Zone)]; dup {
			v.Errorf(k+".zone", "%q is also %s[%d]", z.Zone, key, j)
		} else {
			seen[strings.ToLower(z.Zone)] = i
		}
		switch z.Action {
		case "":
			z.Action = "reject"
		case "reject", "score":
		default:
			v.Errorf(k+".action", "must be reject or score, got %q", z.Action)
		}
		if z.Action == "score" && z.Weight == 0 {
			v.Errorf(k+".weight", "must be set (not 0) when action is score")
		}
		for j, code := range z.Codes {
			if _, err := rbl.ParseCode(code); err != nil {
				v.Errorf(fmt.Sprintf("%s.codes[%d]", k, j), "%v", err)
			}
		}
		if _, ok, err := z.ParseMask(); err != nil {
			v.Errorf(k+".mask", "%v", err)
		} else if ok && len(z.Codes) > 0 {
			v.Errorf(k+".mask", "set codes or mask, not both")
		}
	}
}

func checkThresholds(c *Config, v *validator) {
	t := []struct {
		key string
		val float64
	}{{"thresholds.tag", c.Thresholds.Tag}, {"thresholds.quarantine", c.Thresholds.Quarantine}, {"thresholds.reject", c.Thresholds.Reject}}
	for _, x := range t {
		if x.val < 0 {
			v.Errorf(x.key, "must be 0 (off) or more, got %g", x.val)
		}
	}
	// Each threshold that is on must not be under one before it that is on:
	// a message is tagged before it is quarantined before it is rejected.
	for i := range t {
		for j := i + 1; j < len(t); j++ {
			if t[i].val > 0 && t[j].val > 0 && t[j].val < t[i].val {
				v.Errorf(t[j].key, "is %g, under %s (%g); they must rise tag <= quarantine <= reject", t[j].val, t[i].key, t[i].val)
			}
		}
	}
}

func checkLimits(c *Config, v *validator) {
	l := c.Limits
	if l.MaxConnections < 1 {
		v.Errorf("limits.max_connections", "must be at least 1, got %d", l.MaxConnections)
	}
	if l.MaxConnectionsPerIP < 1 {
		v.Errorf("limits.max_connections_per_ip", "must be at least 1, got %d", l.MaxConnectionsPerIP)
	} else if l.MaxConnections >= 1 && l.MaxConnectionsPerIP > l.MaxConnections {
		v.Errorf("limits.max_connections_per_ip", "is %d, over limits.max_connections (%d)", l.MaxConnectionsPerIP, l.MaxConnections)
	}
	// Lines up to 998 octets are legal (RFC 5322 section 2.1.1); longer ones
	// must reach the message checks to be refused with 550 5.6.0.
	if l.MaxLineLength < 1000 {
		v.Errorf("limits.max_line_length", "must be at least 1000 (RFC 5322 allows lines of 998 octets), got %d", l.MaxLineLength)
	}
	checkDuration(v, "limits.command_timeout", l.CommandTimeout, 0)
	checkDuration(v, "limits.data_timeout", l.DataTimeout, 0)
	checkDuration(v, "limits.backend_timeout", l.BackendTimeout, 0)
	checkDuration(v, "limits.shutdown_timeout", l.ShutdownTimeout, 0)
}
