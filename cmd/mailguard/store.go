package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"time"

	"github.com/schollz/progressbar/v3"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/classifier/redisstore"
	"mailguard/quarantine"
	"mailguard/redisconn"
	"mailguard/rules"
)

func init() {
	register(command{name: "store", summary: "copies the token database and the quarantine between the embedded store and Redis", run: runStore})
}

// embedded names the configuration's data_dir as a side of a copy.
const embedded = "embedded"

func runStore(args []string, stdout, stderr io.Writer) int {
	synopsis := "mailguard store copy [-config FILE] [-tokens=false] [-quarantine=false] FROM TO"
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintln(stdout, "usage: "+synopsis)
			return exitOK
		}
		fmt.Fprintln(stderr, "usage: "+synopsis)
		return exitUsage
	}
	fs, path := commandFlags("store copy", synopsis,
		"Copies the token database and the quarantine from FROM to TO, each\n"+
			"\"embedded\" (the configuration's data_dir) or a redis:// URL, so a site\n"+
			"moves to shared state or back. The token database of TO must be empty;\n"+
			"quarantined messages TO holds already are left alone. Run it while no\n"+
			"gateway writes FROM.", stderr)
	tokens := fs.Bool("tokens", true, "copy the token database")
	quar := fs.Bool("quarantine", true, "copy the quarantine")
	if code, ok := parseCommand(fs, args[1:], stdout); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	from, to := fs.Arg(0), fs.Arg(1)
	for _, s := range []string{from, to} {
		if s == embedded {
			continue
		}
		if _, err := redisconn.Options(s); err != nil {
			fmt.Fprintf(stderr, "mailguard store copy: %s: want %q or redis://host:port/db: %v\n", s, embedded, err)
			return exitUsage
		}
	}
	if from == to {
		fmt.Fprintln(stderr, "mailguard store copy: FROM and TO are the same store")
		return exitUsage
	}
	cfg, err := rules.Load(*path)
	if err != nil {
		printConfigError(stderr, "store", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *tokens {
		if err := copyTokens(ctx, cfg, from, to, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "mailguard store copy: tokens: %v\n", err)
			return exitFailed
		}
	}
	if *quar {
		if err := copyQuarantine(ctx, cfg, from, to, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "mailguard store copy: quarantine: %v\n", err)
			return exitFailed
		}
	}
	return exitOK
}

// tokenSide opens one side's token store; a missing embedded source is
// (nil, nil): nothing to copy.
func tokenSide(cfg *rules.Config, store string, source bool) (classifier.Store, error) {
	if store != embedded {
		return redisstore.Open(redisstore.Config{URL: store, MaxTokens: cfg.Classifier.MaxTokens})
	}
	p := cfg.DataPath(boltstore.FileName)
	if !source {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	st, err := boltstore.Open(boltstore.Config{Path: p, ReadOnly: source, MaxTokens: cfg.Classifier.MaxTokens})
	if source && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return st, err
}

func copyTokens(ctx context.Context, cfg *rules.Config, from, to string, stdout, stderr io.Writer) error {
	src, err := tokenSide(cfg, from, true)
	if err != nil {
		return err
	}
	if src == nil {
		fmt.Fprintf(stdout, "no token database at %s: nothing to copy\n", cfg.DataPath(boltstore.FileName))
		return nil
	}
	defer src.Close()
	dst, err := tokenSide(cfg, to, false)
	if err != nil {
		return err
	}
	defer dst.Close()
	d, err := src.(classifier.Dumper).Dump(ctx)
	if err != nil {
		return err
	}
	bar := newCopyBar(stderr, len(d.Tokens)+len(d.Messages), "tokens")
	err = dst.(classifier.Loader).Load(ctx, d, func(done, total int) {
		if bar != nil {
			bar.Set(done)
		}
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %d tokens and %d message records (%d spam and %d ham learnt)\n",
		len(d.Tokens), len(d.Messages), d.Totals.Spam, d.Totals.Ham)
	return nil
}

func quarantineSide(cfg *rules.Config, store string, source bool) (quarantine.Store, error) {
	s := store
	if s == embedded {
		s = ""
	}
	st, err := quarantine.Open(quarantine.Config{DataDir: cfg.DataDir, Store: s, MustExist: source})
	if source && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return st, err
}

func copyQuarantine(ctx context.Context, cfg *rules.Config, from, to string, stdout, stderr io.Writer) error {
	src, err := quarantineSide(cfg, from, true)
	if err != nil {
		return err
	}
	if src == nil {
		fmt.Fprintln(stdout, "no quarantine in data_dir: nothing to copy")
		return nil
	}
	defer src.Close()
	dst, err := quarantineSide(cfg, to, false)
	if err != nil {
		return err
	}
	defer dst.Close()
	entries, err := src.List(ctx)
	if err != nil {
		return err
	}
	bar := newCopyBar(stderr, len(entries), "quarantine")
	copied, had := 0, 0
	for _, e := range entries {
		err := copyEntry(ctx, src, dst, e)
		switch {
		case errors.Is(err, quarantine.ErrExists):
			had++
		case errors.Is(err, quarantine.ErrNotFound):
			// deleted meanwhile
		case err != nil:
			return fmt.Errorf("%s: %w", e.ID, err)
		default:
			copied++
		}
		if bar != nil {
			bar.Add(1)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	fmt.Fprintf(stdout, "copied %d quarantined messages (%d were there already)\n", copied, had)
	return nil
}

func copyEntry(ctx context.Context, src, dst quarantine.Store, e quarantine.Entry) error {
	_, rc, err := src.Get(ctx, e.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = dst.Put(ctx, e, rc)
	return err
}

// newCopyBar is a progress bar on a terminal, nil elsewhere.
func newCopyBar(w io.Writer, total int, what string) *progressbar.ProgressBar {
	if !isTerminal(w) || total == 0 {
		return nil
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
}
