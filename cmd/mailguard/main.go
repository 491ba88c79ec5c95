// Command mailguard is an inbound anti-abuse mail gateway: an SMTP proxy in
// front of an MTA (or a milter behind one), both driving the same filter
// chain, with a quarantine reviewed on the web and a Bayesian classifier, and
// the tools to train, measure and review them.
//
// Usage:
//
//	mailguard COMMAND [flags] [args]
//
// serve runs the gateway: the SMTP proxy and the listeners the configuration
// names (milter, review UI, metrics). check-config validates a configuration;
// train, classify and eval teach and measure the classifier; quarantine
// reviews held mail; store copies the token database and the quarantine
// between the embedded store and Redis; dnscheck diagnoses a domain's mail
// DNS; version prints the version. "mailguard COMMAND -help" lists a
// command's flags; docs/ describes the configuration and operation.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit statuses, as documented: 0 done, 1 failed at run time, 2 bad usage or
// bad configuration.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// command is one subcommand. Each lives in its own file and registers itself.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// commandFlags returns a command's flag set, writing to stderr, with its
// -config flag and a usage of the synopsis, the text about it and the
// flags.
func commandFlags(name, synopsis, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: "+synopsis)
		fmt.Fprintln(fs.Output(), "\n"+about)
		fs.PrintDefaults()
	}
	return fs, fs.String("config", "", "configuration `FILE` (default: the built-in defaults)")
}

// parseCommand parses a command's flags; ok is false when the command is
// done (help asked, exit 0) or the usage was bad (exit 2).
func parseCommand(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, ok bool) {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mailguard: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailguard COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'mailguard COMMAND -help' for a command's flags.")
}
