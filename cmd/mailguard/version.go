package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register(command{name: "version", summary: "prints the version", run: func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: mailguard version")
			fmt.Fprintln(fs.Output(), "\nPrints the version of this mailguard.")
		}
		if code, ok := parseCommand(fs, args, stdout); !ok {
			return code
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "mailguard version: unexpected argument %q\n", fs.Arg(0))
			fs.Usage()
			return exitUsage
		}
		v := version
		if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "dev-" + s.Value[:12]
				}
			}
		}
		fmt.Fprintln(stdout, "mailguard", v)
		return exitOK
	}})
}
