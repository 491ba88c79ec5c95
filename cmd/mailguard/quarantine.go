package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"mailguard/classifier"
	"mailguard/filters"
	"mailguard/quarantine"
	"mailguard/relay"
	"mailguard/rules"
)

func init() {
	register(command{name: "quarantine", summary: "reviews the quarantine: list, show, release, delete, learn", run: runQuarantine})
}

const quarantineUsage = `usage: mailguard quarantine [-config FILE] COMMAND

commands:
  list [-json]         the held messages, oldest first: id, date, sender, recipients, score, subject
  show ID              the envelope, the tests that fired, then the message as held
  release ID           relays the message to the backend with its envelope; deleted on the backend's 250
  delete ID            removes the message
  learn ID spam|ham    learns the message as spam or ham (it stays held)
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
	asJSON := false
	if sub == "list" {
		sfs.BoolVar(&asJSON, "json", false, "print the entries as a JSON array")
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
		// Nothing was ever held here: an empty quarantine, and nothing
		// created by looking at it.
		st, err = emptyQuarantine{}, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailguard quarantine: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	q := &quarantineCmd{cfg: cfg, store: st, stdout: stdout, stderr: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch sub {
	case "list":
		err = q.list(ctx, asJSON)
	case "show":
		err = q.show(ctx, rest[0])
	case "release":
		err = q.release(ctx, rest[0])
	case "delete":
		err = q.delete(ctx, rest[0])
	case "learn":
		err = q.learn(ctx, rest[0], rest[1] == "spam")
	}
	if err != nil {
		if errors.Is(err, quarantine.ErrNotFound) {
			fmt.Fprintf(stderr, "mailguard quarantine %s: no message %s in the quarantine\n", sub, rest[0])
		} else {
			fmt.Fprintf(stderr, "mailguard quarantine %s: %v\n", sub, err)
		}
		return exitFailed
	}
	return exitOK
}

func (q *quarantineCmd) list(ctx context.Context, asJSON bool) error {
	entries, err := q.store.List(ctx)
	if err != nil {
		return err
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
	fmt.Fprintln(tw, "ID\tDATE\tFROM\tRCPTS\tSCORE\tSUBJECT")
	for _, e := range entries {
		rcpts := ""
		if len(e.Rcpts) > 0 {
			rcpts = e.Rcpts[0]
			if len(e.Rcpts) > 1 {
				rcpts += fmt.Sprintf(" +%d", len(e.Rcpts)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.UTC().Format("2006-01-02 15:04"),
			clip(sender(e.MailFrom), 40), clip(rcpts, 40), filters.FormatPoints(e.Score), clip(decodeHeader(e.Subject), 60))
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
	fmt.Fprintf(w, "ID:        %s\n", e.ID)
	fmt.Fprintf(w, "Held:      %s\n", e.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Queue ID:  %s\n", e.QueueID)
	fmt.Fprintf(w, "Client:    %s (HELO %s)\n", e.ClientIP, e.Helo)
	fmt.Fprintf(w, "Sender:    %s\n", sender(e.MailFrom))
	fmt.Fprintf(w, "Rcpts:     %s\n", strings.Join(e.Rcpts, ", "))
	fmt.Fprintf(w, "Score:     %s\n", filters.FormatPoints(e.Score))
	fmt.Fprintf(w, "Tests:     %s\n", filters.FormatTests(e.Tests))
	if e.Reason != "" {
		fmt.Fprintf(w, "Reason:    %s\n", e.Reason)
	}
	fmt.Fprintf(w, "Size:      %d\n", e.Size)
	fmt.Fprintln(w)
	_, err = io.Copy(w, rc)
	return err
}

// release relays the held message to the backend with the envelope it
// arrived with, and deletes it once the backend has taken it (250).
// Recipients the backend refuses permanently are reported and skipped; a
// temporary refusal keeps the message held for a later release.
func (q *quarantineCmd) release(ctx context.Context, id string) error {
	e, rc, err := q.store.Get(ctx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	cl, err := relay.Dial(ctx, relay.Config{
		Addr:     q.cfg.Backend,
		Hostname: q.cfg.Hostname,
		Timeout:  q.cfg.Limits.BackendTimeout,
	})
	if err != nil {
		return fmt.Errorf("%s kept: %w", id, err)
	}
	defer cl.Close()
	utf8Env := !isASCII(e.MailFrom)
	for _, r := range e.Rcpts {
		utf8Env = utf8Env || !isASCII(r)
	}
	rep, err := cl.Mail(ctx, e.MailFrom, relay.MailOptions{Size: e.Size, SMTPUTF8: utf8Env})
	if err != nil {
		return fmt.Errorf("%s kept: %w", id, err)
	}
	if rep.Code/100 != 2 {
		return fmt.Errorf("%s kept: the backend refused the sender <%s>: %s", id, e.MailFrom, rep)
	}
	var accepted, refused []string
	for _, r := range e.Rcpts {
		rep, err := cl.Rcpt(ctx, r)
		if err != nil {
			return fmt.Errorf("%s kept: %w", id, err)
		}
		switch {
		case rep.Code/100 == 2:
			accepted = append(accepted, r)
		case rep.Temporary():
			cl.Reset(ctx)
			return fmt.Errorf("%s kept: the backend deferred <%s>: %s; try again later", id, r, rep)
		default:
			refused = append(refused, r)
			fmt.Fprintf(q.stderr, "mailguard quarantine release: the backend refused <%s>: %s\n", r, rep)
		}
	}
	if len(accepted) == 0 {
		cl.Reset(ctx)
		return fmt.Errorf("%s kept: the backend refused every recipient", id)
	}
	rep, err = cl.Data(ctx, rc)
	if err != nil {
		return fmt.Errorf("%s kept: %w", id, err)
	}
	if rep.Code/100 != 2 {
		return fmt.Errorf("%s kept: the backend refused the message: %s", id, rep)
	}
	fmt.Fprintf(q.stdout, "released %s to %s for %s: %s\n", id, q.cfg.Backend, strings.Join(accepted, ", "), rep)
	if err := q.store.Delete(ctx, id); err != nil {
		// Delivered but still held: a second release would deliver twice.
		return fmt.Errorf("released, but not deleted from the quarantine (do not release it again): %w", err)
	}
	if len(refused) > 0 {
		fmt.Fprintf(q.stderr, "mailguard quarantine release: %s was not delivered to %s\n", id, strings.Join(refused, ", "))
	}
	return nil
}

func (q *quarantineCmd) delete(ctx context.Context, id string) error {
	if err := q.store.Delete(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(q.stdout, "deleted %s\n", id)
	return nil
}

// learn teaches the classifier the held message as spam or ham, through
// the same token store train writes.
func (q *quarantineCmd) learn(ctx context.Context, id string, spam bool) error {
	_, rc, err := q.store.Get(ctx, id)
	if err != nil {
		return err
	}
	// The tokenizer reads a bounded prefix; max_message_bytes bounds the
	// held message anyway.
	raw, err := io.ReadAll(io.LimitReader(rc, q.cfg.MaxMessageBytes+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", id, err)
	}
	st, err := openTokenStore(q.cfg, false)
	if err != nil {
		return err
	}
	n, err := st.Learn(ctx, classifier.Doc{Digest: classifier.Digest(raw), Spam: spam, Tokens: classifier.Tokenize(raw)})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("learn %s: %w", id, err)
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

// decodeHeader decodes RFC 2047 encoded words for display; undecodable
// text is shown as it is.
func decodeHeader(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// emptyQuarantine stands for a quarantine that was never created.
type emptyQuarantine struct{}

func (emptyQuarantine) Put(context.Context, quarantine.Entry, io.Reader) (quarantine.Entry, error) {
	return quarantine.Entry{}, errors.New("the quarantine does not exist")
}
func (emptyQuarantine) Get(_ context.Context, id string) (quarantine.Entry, io.ReadCloser, error) {
	return quarantine.Entry{}, nil, fmt.Errorf("quarantine %s: %w", id, quarantine.ErrNotFound)
}
func (emptyQuarantine) List(context.Context) ([]quarantine.Entry, error) { return nil, nil }
func (emptyQuarantine) Delete(_ context.Context, id string) error {
	return fmt.Errorf("quarantine %s: %w", id, quarantine.ErrNotFound)
}
func (emptyQuarantine) Close() error { return nil }
