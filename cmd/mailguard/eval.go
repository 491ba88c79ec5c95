package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailguard/classifier"
	"mailguard/evaluate"
	"mailguard/filters"
	"mailguard/mailfiles"
	"mailguard/rules"
)

func init() {
	register(command{name: "eval", summary: "cross-validates the classifier on labelled mail: error rates, (1-ROCA)%, ROC plot; changes nothing", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("eval", "mailguard eval -spam PATH -ham PATH [-folds N | -test-mod D,D,...] [-chain] [-plot FILE.svg] [-json]", "Cross-validates the classifier on labelled mail: each message is scored by a\nclassifier trained, in memory, on the other folds. Reports the false-positive,\nfalse-negative and unsure rates at the configured bands, (1-ROCA)%, spam recall\nat 0.1% and 1% false positives, the train and classify rates, and how the\ncalibrated BAYES_* bands hold up (the spam share of each). With -chain, each\nmessage goes through the message checks and the classifier as the gateway runs\nthem with this configuration (no network: DNS and envelope checks are left out;\ndates are judged against the message's own newest Received line), and the report\ncounts per class what the gateway would do at the configured thresholds. With\n-test-mod, one fixed split replaces the folds: the messages whose file name's\nSHA-256, as a number, mod 10 is one of the digits given are tested, the others\nlearnt. The token store is not touched.", stderr)
	var spamPaths, hamPaths pathList
	fs.Var(&spamPaths, "spam", "spam: a message file, a folder of them or an mbox `PATH` (may be repeated)")
	fs.Var(&hamPaths, "ham", "ham: a message file, a folder of them or an mbox `PATH` (may be repeated)")
	folds := fs.Int("folds", 10, "cross-validation `N` folds")
	var testMods modList
	fs.Var(&testMods, "test-mod", "instead of folds, test the messages whose file name's SHA-256 mod 10 is one of `D,D,...` (digits 0-9) and learn the others")
	plot := fs.String("plot", "", "write the ROC curve to `FILE.svg`")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	wholeChain := fs.Bool("chain", false, "judge each message with the message checks and the classifier as the gateway would, and count what it would do: relay, tag, quarantine, reject, refuse as malformed")
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if len(spamPaths) == 0 || len(hamPaths) == 0 || fs.NArg() > 0 || *folds < 2 {
		fmt.Fprintln(stderr, "mailguard eval: give -spam PATH and -ham PATH, and -folds of at least 2")
		fs.Usage()
		return exitUsage
	}
	cfg, err := rules.Load(*path)
	if err != nil {
		printConfigError(stderr, "eval", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	start := time.Now()
	var samples []evaluate.Sample
	for _, set := range []struct {
		spam  bool
		paths []string
	}{{true, spamPaths}, {false, hamPaths}} {
		files, err := mailfiles.List(set.paths)
		if err != nil {
			fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
			return exitFailed
		}
		err = mailfiles.Process(ctx, mailfiles.Config{}, files,
			func(name string, raw []byte) evaluate.Sample {
				h := head(cfg, raw)
				s := evaluate.Sample{Name: name, Spam: set.spam, Digest: classifier.Digest(h), Tokens: classifier.Tokenize(h)}
				if *wholeChain {
					s.Raw = raw
				}
				return s
			},
			func(name string, s evaluate.Sample, err error) error {
				if err != nil {
					return err
				}
				samples = append(samples, s)
				return nil
			})
		if err != nil {
			fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
			return exitFailed
		}
	}
	tokenized := time.Since(start)
	if *wholeChain {
		return evalChain(ctx, cfg, *folds, testMods, samples, *asJSON, stdout, stderr)
	}

	r, err := evaluate.CrossValidate(ctx, evaluate.Config{Folds: *folds, TestMods: testMods, Classifier: classifierConfig(cfg), TokenizeTime: tokenized}, samples)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
		return exitFailed
	}
	if r.Spam == 0 || r.Ham == 0 {
		fmt.Fprintf(stderr, "mailguard eval: found %d spam and %d ham messages; both classes are needed\n", r.Spam, r.Ham)
		return exitFailed
	}
	if *plot != "" {
		if err := writePlot(*plot, r); err != nil {
			fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
			return exitFailed
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	printReport(stdout, r)
	warnInactive(stderr, r.Inactive, "they count as unsure")
	return exitOK
}

// warnInactive says how many messages were scored while the classifier was
// still inactive (fewer than min_learned of a class learnt in their fold).
func warnInactive(stderr io.Writer, n int, effect string) {
	if n > 0 {
		fmt.Fprintf(stderr, "mailguard eval: %d messages were scored before the classifier had learnt enough of each class (%s)\n", n, effect)
	}
}

// worstListed is how many of the ham in the most misordered pairs the
// text report names (-json lists more).
const worstListed = 3

func printReport(w io.Writer, r *evaluate.Report) {
	fmt.Fprintf(w, "messages          %d spam, %d ham, %s\n", r.Spam, r.Ham, foldsText(r.Folds, r.TestMods))
	fmt.Fprintf(w, "bands             ham < %g <= unsure < %g <= spam\n", r.HamCutoff, r.SpamCutoff)
	fmt.Fprintf(w, "false positives   %.3f%% (%d of %d ham marked spam)\n", r.FPRPct, r.FalsePositives, r.Ham)
	fmt.Fprintf(w, "false negatives   %.3f%% (%d of %d spam marked ham)\n", r.FNRPct, r.FalseNegatives, r.Spam)
	fmt.Fprintf(w, "unsure            %.3f%% (%d: %.3f%% of spam, %.3f%% of ham)\n", r.UnsurePct, r.Unsure, r.UnsureSpamPct, r.UnsureHamPct)
	fmt.Fprintf(w, "(1-ROCA)%%         %.4f\n", r.OneMinusROCAPct)
	fmt.Fprintf(w, "spam recall       %.2f%% at <= 0.1%% false positives, %.2f%% at <= 1%%\n", r.RecallAt01Pct, r.RecallAt1Pct)
	for i, c := range r.WorstHam {
		if i == worstListed {
			break
		}
		fmt.Fprintf(w, "worst ham         %5.1f%% of misordered pairs (%g) %s\n", c.SharePct, c.Misordered, c.Name)
	}
	fmt.Fprintf(w, "reliability       band: spam/ham, calibrated probability promised -> spam share found\n")
	for _, b := range r.Reliability {
		fmt.Fprintf(w, "  %-10s %5d/%-5d %8.4f%% -> %8.4f%%\n", b.Band, b.Spam, b.Ham, 100*b.MeanProb, b.SpamSharePct)
	}
	fmt.Fprintf(w, "speed             train %.0f messages/s, classify %.0f messages/s\n", r.TrainMsgsPerSec, r.ClassifyMsgsPerSec)
}

func writePlot(path string, r *evaluate.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := evaluate.Plot(f, r); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

func evalChain(ctx context.Context, cfg *rules.Config, folds int, testMods []int, samples []evaluate.Sample, asJSON bool, stdout, stderr io.Writer) int {
	policy := filters.Policy{Tag: cfg.Thresholds.Tag, Quarantine: cfg.Thresholds.Quarantine, Reject: cfg.Thresholds.Reject}
	r, err := evaluate.CrossValidateChain(ctx, evaluate.ChainConfig{Folds: folds, TestMods: testMods, Classifier: classifierConfig(cfg), Judge: chainJudge(cfg)}, policy, samples)
	if err != nil {
		fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
		return exitFailed
	}
	if r.Spam.Messages == 0 || r.Ham.Messages == 0 {
		fmt.Fprintf(stderr, "mailguard eval: found %d spam and %d ham messages; both classes are needed\n", r.Spam.Messages, r.Ham.Messages)
		return exitFailed
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "mailguard eval: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	printChainReport(stdout, r)
	warnInactive(stderr, r.Inactive, "BAYES_INACTIVE, no classifier points")
	return exitOK
}

// foldsText says how the messages were tested: "10 folds", or the test
// part of a fixed split.
func foldsText(folds int, testMods []int) string {
	if len(testMods) == 0 {
		return fmt.Sprintf("%d folds", folds)
	}
	return "tested where sha256(file name) mod 10 is " + modList(testMods).String() + ", the rest learnt"
}

// modList is the -test-mod flag: distinct digits 0-9, comma-separated.
type modList []int

func (m modList) String() string {
	parts := make([]string, len(m))
	for i, d := range m {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

func (m *modList) Set(v string) error {
	var out modList
	for _, f := range strings.Split(v, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 0 || d > 9 {
			return fmt.Errorf("%q is not a digit 0-9", f)
		}
		if slices.Contains(out, d) {
			return fmt.Errorf("%d given twice", d)
		}
		out = append(out, d)
	}
	if len(out) == 10 {
		return fmt.Errorf("all ten digits leave nothing to learn")
	}
	*m = out
	return nil
}
