package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"mailguard/filters"
	"mailguard/quarantine"
	"mailguard/rules"
)

func init() {
	register(command{name: "quarantine", summary: "reviews the quarantine: list, show, release, delete, learn", run: runQuarantine})
}

const quarantineUsage = `usage: mailguard quarantine [-config FILE] COMMAND

commands:
  list [-json]                the held messages, oldest first: queue id, date, sender, recipients, score, subject
  show ID                     the envelope, the tests that fired, the Bayes clues, then the message as held
  release [-learn] [-by NAME] ID
                              delivers the message to its original recipients through the backend, its
                              X-Spam-Flag removed and X-Spam-Status "No, ... released by NAME"; -learn also
                              learns it as ham; a temporary failure is retried by the running gateway
  delete [-learn] ID          removes the message; -learn first learns it as spam
  learn ID spam|ham           learns the message as spam or ham (it stays held)

ID is the queue id the sender was told (any case).
`

// quarantineCmd is one run of the command: the configuration and the store.
type quarantineCmd struct {
	cfg    *rules.Config
	store  quarantine.Store
	stdout io.Writer
	stderr io.Writer
}

func runQuarantine(args []string, stdout, stderr io.Writer) int {
	newFlags := func(name string) (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprint(fs.Output(), quarantineUsage); fs.PrintDefaults() }
		return fs, fs.String("config", "", "configuration `FILE` (default: the built-in defaults)")
	}
	fs, path := newFlags("quarantine")
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "mailguard quarantine: no command given")
		fs.Usage()
		return exitUsage
	}
	sub := fs.Arg(0)
	// Flags may also follow the command: quarantine list -config FILE.
	sfs, spath := newFlags("quarantine " + sub)
	var asJSON, learn bool
	by := reviewerName()
	switch sub {
	case "list":
		sfs.BoolVar(&asJSON, "json", false, "print the entries as a JSON array")
	case "release":
		sfs.BoolVar(&learn, "learn", false, "also learn the message as ham (not spam)")
		sfs.StringVar(&by, "by", by, "the reviewer `NAME` written in X-Spam-Status")
	case "delete":
		sfs.BoolVar(&learn, "learn", false, "first learn the message as spam")
	}
	if code, ok := parseCommand(sfs, fs.Args()[1:], stdout); !ok {
		return code
	}
	if *spath != "" {
		path = spath
	}
	rest := sfs.Args()
	want := map[string]int{"list": 0, "show": 1, "release": 1, "delete": 1, "learn": 2}
	n, known := want[sub]
	if !known {
		fmt.Fprintf(stderr, "mailguard quarantine: unknown command %q\n", sub)
		sfs.Usage()
		return exitUsage
	}
	if len(rest) != n {
		fmt.Fprintf(stderr, "mailguard quarantine %s: want %d argument(s), got %d\n", sub, n, len(rest))
		sfs.Usage()
		return exitUsage
	}
	if sub == "learn" && rest[1] != "spam" && rest[1] != "ham" {
		fmt.Fprintf(stderr, "mailguard quarantine learn: class must be spam or ham, got %q\n", rest[1])
		return exitUsage
	}

	cfg, err := rules.Load(*path)
	if err != nil {
		printConfigError(stderr, "quarantine", err)
		return exitUsage
	}
	st, err := quarantine.Open(quarantine.Config{DataDir: cfg.DataDir, Store: cfg.Store, MustExist: true})
	if errors.Is(err, os.ErrNotExist) {
		// Nothing was ever held here, or data_dir names the wrong place:
		// an empty table would hide the second.
		fmt.Fprintf(stderr, "mailguard quarantine %s: no quarantine at %s (data_dir %q): nothing was ever held there, or data_dir is not the gateway's\n",
			sub, cfg.DataPath(quarantine.DirName), cfg.DataDir)
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailguard quarantine: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	q := &quarantineCmd{cfg: cfg, store: st, stdout: stdout, stderr: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var id string
	if len(rest) > 0 {
		id = quarantine.CanonicalID(rest[0])
	}
	switch sub {
	case "list":
		err = q.list(ctx, asJSON)
	case "show":
		err = q.show(ctx, id)
	case "release":
		if learn {
			err = q.learn(ctx, id, false)
		}
		if err == nil {
			err = q.release(ctx, id, by)
		}
	case "delete":
		if learn {
			err = q.learn(ctx, id, true)
		}
		if err == nil {
			err = q.delete(ctx, id, by, learn)
		}
	case "learn":
		err = q.learn(ctx, id, rest[1] == "spam")
	}
	if err != nil {
		if errors.Is(err, quarantine.ErrNotFound) {
			fmt.Fprintf(stderr, "mailguard quarantine %s: no message %s in the quarantine%s\n", sub, rest[0], whatBecameOf(ctx, st, id))
		} else {
			fmt.Fprintf(stderr, "mailguard quarantine %s: %v\n", sub, err)
		}
		return exitFailed
	}
	return exitOK
}

// whatBecameOf says what the journal knows of an entry no longer held
// ("; released by NAME at TIME"), or "".
func whatBecameOf(ctx context.Context, st quarantine.Store, id string) string {
	ev, ok := quarantine.LastEvent(ctx, st, id)
	if !ok || ev.Kind == quarantine.EventHeld {
		return ""
	}
	what := map[string]string{
		quarantine.EventReleased: "released",
		quarantine.EventSpam:     "deleted as spam",
		quarantine.EventDeleted:  "deleted",
		quarantine.EventExpired:  "removed at the end of its retention",
	}[ev.Kind]
	if what == "" {
		return ""
	}
	if ev.By != "" {
		what += " by " + ev.By
	}
	return fmt.Sprintf("; it was %s at %s", what, ev.Time.Format(time.RFC3339))
}

// reviewerName is who releases from the shell: the login name.
func reviewerName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "operator"
}

func (q *quarantineCmd) list(ctx context.Context, asJSON bool) error {
	entries, err := q.store.List(ctx)
	if err != nil {
		return err
	}
	for i := range entries {
		// Entries of earlier versions kept the raw header text.
		entries[i].Subject = quarantine.DecodeHeader(entries[i].Subject)
		entries[i].From = quarantine.DecodeHeader(entries[i].From)
	}
	if asJSON {
		if entries == nil {
			entries = []quarantine.Entry{}
		}
		enc := json.NewEncoder(q.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	tw := tabwriter.NewWriter(q.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE ID\tDATE\tFROM\tRCPTS\tSCORE\tSUBJECT")
	for _, e := range entries {
		rcpts := ""
		if len(e.Rcpts) > 0 {
			rcpts = e.Rcpts[0]
			if len(e.Rcpts) > 1 {
				rcpts += fmt.Sprintf(" +%d", len(e.Rcpts)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.UTC().Format("2006-01-02 15:04"),
			clip(sender(e.MailFrom), 40), clip(rcpts, 40), filters.FormatPoints(e.Score), clip(state(e)+e.Subject, 60))
	}
	return tw.Flush()
}

func (q *quarantineCmd) show(ctx context.Context, id string) error {
	e, rc, err := q.store.Get(ctx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	w := q.stdout
	fmt.Fprintf(w, "Queue ID:  %s\n", e.ID)
	fmt.Fprintf(w, "Held:      %s\n", e.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Client:    %s (HELO %s)\n", e.ClientIP, e.Helo)
	fmt.Fprintf(w, "Sender:    %s\n", sender(e.MailFrom))
	fmt.Fprintf(w, "Rcpts:     %s\n", strings.Join(e.Rcpts, ", "))
	fmt.Fprintf(w, "Score:     %s\n", filters.FormatPoints(e.Score))
	fmt.Fprintf(w, "Tests:     %s\n", filters.FormatTests(e.Tests))
	if e.Reason != "" {
		fmt.Fprintf(w, "Reason:    %s\n", e.Reason)
	}
	fmt.Fprintf(w, "Size:      %d\n", e.Size)
	if e.Bayes != nil {
		var clues []string
		for _, c := range e.Bayes.Clues[:min(len(e.Bayes.Clues), 10)] {
			clues = append(clues, fmt.Sprintf("%q %.3f", c.Token, c.Prob))
		}
		fmt.Fprintf(w, "Bayes:     %.4f; %s\n", e.Bayes.Prob, strings.Join(clues, ", "))
	}
	if r := e.Release; r != nil {
		fmt.Fprintf(w, "Released:  by %s at %s; pending %s; next attempt %s; last error: %s\n", r.By, r.At.UTC().Format(time.RFC3339),
			strings.Join(r.Pending, ", "), r.NextAttempt.UTC().Format(time.RFC3339), r.LastError)
	}
	fmt.Fprintln(w)
	_, err = io.Copy(w, rc)
	return err
}

// release delivers the held message to its original recipients through
// the backend, rewritten as released by reviewer. A temporary failure
// leaves it marked for the running gateway to retry.
func (q *quarantineCmd) release(ctx context.Context, id, reviewer string) error {
	r := newReleaser(q.cfg, q.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e, err := r.Release(ctx, id, reviewer)
	if err != nil {
		return err
	}
	rel := e.Release
	for _, x := range rel.Refused {
		fmt.Fprintf(q.stderr, "mailguard quarantine release: the backend refused %s\n", x)
	}
	if len(rel.Delivered) > 0 {
		fmt.Fprintf(q.stdout, "released %s to %s for %s\n", e.ID, q.cfg.Backend, strings.Join(rel.Delivered, ", "))
	}
	if len(rel.Pending) > 0 {
		fmt.Fprintf(q.stdout, "%s: delivery to %s deferred (%s); the gateway retries until %s\n", e.ID,
			strings.Join(rel.Pending, ", "), rel.LastError, e.Time.Add(q.cfg.Quarantine.Retention).UTC().Format(time.RFC3339))
	}
	return nil
}

// newReleaser is the Releaser the configuration describes.
func newReleaser(cfg *rules.Config, st quarantine.Store, log *slog.Logger) *quarantine.Releaser {
	qc := cfg.Quarantine
	return &quarantine.Releaser{
		Store:      st,
		Deliver:    quarantine.Backend{Addr: cfg.Backend, Hostname: cfg.Hostname, Timeout: cfg.Limits.BackendTimeout},
		Retention:  qc.Retention,
		MaxBytes:   qc.MaxBytes,
		RetryFirst: qc.RetryFirst,
		RetryMax:   qc.RetryMax,
		Log:        log,
	}
}

// state marks a released entry still being delivered in the list.
func state(e quarantine.Entry) string {
	if e.Release != nil {
		return "[releasing] "
	}
	return ""
}

func (q *quarantineCmd) delete(ctx context.Context, id, by string, spam bool) error {
	if err := quarantine.Discard(ctx, q.store, id, by, spam); err != nil {
		return err
	}
	fmt.Fprintf(q.stdout, "deleted %s\n", id)
	return nil
}

// learn teaches the classifier the held message as spam or ham, through
// the same token store train writes.
func (q *quarantineCmd) learn(ctx context.Context, id string, spam bool) error {
	// An unknown id is reported before the token store is opened.
	_, rc, err := q.store.Get(ctx, id)
	if err != nil {
		return err
	}
	rc.Close()
	st, err := openTokenStore(q.cfg, false)
	if err != nil {
		return err
	}
	n, err := quarantine.Learn(ctx, q.store, st, id, spam, q.cfg.Classifier.MaxBytes)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	class := "ham"
	if spam {
		class = "spam"
	}
	if n == 0 {
		fmt.Fprintf(q.stdout, "%s was learnt as %s already\n", id, class)
	} else {
		fmt.Fprintf(q.stdout, "learnt %s as %s\n", id, class)
	}
	return nil
}

func sender(s string) string {
	if s == "" {
		return "<>"
	}
	return s
}

// clip shortens s to n characters for a table column, and keeps control
// characters out of the terminal.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
