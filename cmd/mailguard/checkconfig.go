package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"mailguard/rules"
)

func init() {
	register(command{name: "check-config", summary: "validates a configuration: what is wrong, by file, line and key", run: runCheckConfig})
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("check-config", "mailguard check-config [-config FILE]",
		"Validates a configuration as serve does before it starts, and prints every problem as file:line: key: message.", stderr)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mailguard check-config: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if _, err := loadConfig(*path); err != nil {
		var errs *rules.Errors
		if errors.As(err, &errs) {
			for _, p := range errs.Problems {
				fmt.Fprintln(stderr, p)
			}
			fmt.Fprintf(stderr, "%d problem(s) found\n", len(errs.Problems))
		} else {
			fmt.Fprintf(stderr, "mailguard check-config: %v\n", err)
		}
		return exitUsage
	}
	if *path != "" {
		// serve starts with it, but a reload would not take it: say so
		// now rather than in the log after a SIGHUP.
		if data, err := os.ReadFile(*path); err == nil {
			if err := reloadRefusal(*path, data); err != nil {
				fmt.Fprintf(stderr, "warning: serve starts with this file, but SIGHUP would not reload it: %v\n", err)
			}
		}
	}
	fmt.Fprintln(stdout, "configuration OK")
	return exitOK
}
