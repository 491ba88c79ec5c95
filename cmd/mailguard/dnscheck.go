package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"mailguard/dnscheck"
	"mailguard/resolver"
	"mailguard/rules"
)

func init() {
	register(command{name: "dnscheck", summary: "diagnoses a domain's mail DNS: MX, mail hosts, reverse DNS, name servers", run: runDNSCheck})
}

// nsOverrides is the hidden -ns NAME=HOST:PORT flag: ask the name server
// NAME at HOST:PORT instead of its address on port 53. Tests use it to run
// several name servers on one loopback address.
type nsOverrides map[string][]string

func (o nsOverrides) String() string { return "" }

func (o nsOverrides) Set(s string) error {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want NAME=HOST:PORT")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	name = strings.ToLower(strings.TrimSuffix(name, ".")) + "."
	o[name] = append(o[name], addr)
	return nil
}

func runDNSCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dnscheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	server := fs.String("resolver", "", "recursive resolver `host:port` (default: dns.resolver of -config, else /etc/resolv.conf)")
	timeout := fs.Duration("timeout", 0, "time allowed for each DNS question (default: dns.timeout of -config, 2s)")
	config := fs.String("config", "", "configuration `FILE` whose dns section to use")
	ns := nsOverrides{}
	fs.Var(ns, "ns", "")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: mailguard dnscheck [-json] [-resolver host:port] [-timeout d] [-config FILE] DOMAIN")
		fmt.Fprintln(w, "\nDiagnoses a domain's mail DNS: no MX, MX to an alias (CNAME), to an IP")
		fmt.Fprintln(w, "literal or to a host without an address, duplicate MX, reverse DNS of each")
		fmt.Fprintln(w, "mail host address, and authoritative name servers that disagree.")
		fmt.Fprintln(w, "Exit status: 0 no problem, 1 problems found, 2 bad usage.")
		fmt.Fprintln(w)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == "ns" {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			if name != "" {
				name = " " + name
			}
			fmt.Fprintf(w, "  -%s%s\n    \t%s\n", f.Name, name, usage)
		})
	}
	// Flags may come before or after the domain.
	var domains []string
	for {
		if code, ok := parseCommand(fs, args, stdout); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		domains = append(domains, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(domains) != 1 {
		fmt.Fprintln(stderr, "mailguard dnscheck: give exactly one DOMAIN")
		fs.Usage()
		return exitUsage
	}
	cfg, err := rules.Load(*config)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard dnscheck: %v\n", err)
		return exitUsage
	}
	if *server == "" {
		*server = cfg.DNS.Resolver
	}
	if *timeout <= 0 {
		*timeout = cfg.DNS.Timeout
	}
	r, err := resolver.New(resolver.Config{Server: *server, Timeout: *timeout, CacheSize: 1000})
	if err != nil {
		fmt.Fprintf(stderr, "mailguard dnscheck: %v\n", err)
		return exitUsage
	}
	check := dnscheck.Config{Resolver: r, Timeout: *timeout}
	if len(ns) > 0 {
		check.NSAddrs = func(ctx context.Context, host string) ([]string, error) {
			if a, ok := ns[strings.ToLower(host)]; ok {
				return a, nil
			}
			ips, err := resolver.LookupIP(ctx, r, host)
			var addrs []string
			for _, ip := range ips {
				addrs = append(addrs, net.JoinHostPort(ip.String(), "53"))
			}
			return addrs, err
		}
	}
	// A bound on the whole run, however many servers and hosts there are.
	ctx, cancel := context.WithTimeout(context.Background(), *timeout*30+10*time.Second)
	defer cancel()
	rep, err := dnscheck.Check(ctx, domains[0], check)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard dnscheck: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailguard dnscheck: %v\n", err)
		return exitFailed
	}
	if rep.Faulty() {
		return exitFailed
	}
	return exitOK
}
