package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailguard/evaluate"
)

// BenchmarkClassifierVsBogofilter measures mailguard against bogofilter on
// the SpamAssassin corpus split as the shared split.py does, both trained
// on train/ and scored on test/ in the same run, the way the shared bogo.sh
// runs bogofilter. It reports each filter's (1-ROCA)% and spam recall at
// 0.1% false positives, and mailguard's train and classify rates as
// multiples of bogofilter's.
func BenchmarkClassifierVsBogofilter(b *testing.B) {
	split := corpusSplit(b)
	if _, err := exec.LookPath("bogofilter"); err != nil {
		b.Skip("bogofilter is not installed (Debian package bogofilter; make bench installs it as root)")
	}
	ntrain := len(split["train/spam"]) + len(split["train/ham"])
	ntest := len(split["test/spam"]) + len(split["test/ham"])
	var bogo, mg filterRun
	for b.Loop() {
		bogo = runBogofilter(b, split)
		mg = runMailguard(b, split)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(bogo.roca, "bogofilter-(1-ROCA)%")
	b.ReportMetric(mg.roca, "mailguard-(1-ROCA)%")
	b.ReportMetric(bogo.recall, "bogofilter-recall%")
	b.ReportMetric(mg.recall, "mailguard-recall%")
	b.ReportMetric(float64(ntrain)/mg.train.Seconds(), "mailguard-train-msgs/s")
	b.ReportMetric(float64(ntest)/mg.classify.Seconds(), "mailguard-classify-msgs/s")
	b.ReportMetric(bogo.train.Seconds()/mg.train.Seconds(), "train-x-bogofilter")
	b.ReportMetric(bogo.classify.Seconds()/mg.classify.Seconds(), "classify-x-bogofilter")
}

// filterRun is one filter's figures on the split.
type filterRun struct {
	train, classify time.Duration
	roca, recall    float64
}

func (r *filterRun) score(scores []evaluate.Score) {
	r.roca = evaluate.OneMinusROCA(scores)
	r.recall = evaluate.RecallAtFPR(scores, 0.001)
}

// runBogofilter trains and scores as bogo.sh does: file names on standard
// input (-b), spam then ham, and the spamicity of each test message.
func runBogofilter(b *testing.B, split map[string][]string) filterRun {
	dir := b.TempDir()
	var r filterRun
	start := time.Now()
	for _, c := range []struct{ list, flag string }{{"train/spam", "-s"}, {"train/ham", "-n"}} {
		command(b, split[c.list], 0, "bogofilter", "-d", dir, c.flag, "-b")
	}
	r.train = time.Since(start)
	start = time.Now()
	var scores []evaluate.Score
	for _, class := range []string{"spam", "ham"} {
		// Its exit status is the last message's class (0 spam, 1 ham,
		// 2 unsure); 3 is an error.
		out := command(b, split["test/"+class], 2, "bogofilter", "-d", dir, "-t", "--terse-format=%1.1c %.12e", "-b")
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			p, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				b.Fatalf("bogofilter printed %q: %v", l, err)
			}
			scores = append(scores, evaluate.Score{Spam: class == "spam", Score: p})
		}
	}
	r.classify = time.Since(start)
	r.score(scores)
	return r
}

// runMailguard trains and classifies with the built binary on a fresh
// token store.
func runMailguard(b *testing.B, split map[string][]string) filterRun {
	dir := b.TempDir()
	cfg := filepath.Join(dir, "mailguard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "data_dir: %s\n", filepath.Join(dir, "data")), 0o644); err != nil {
		b.Fatal(err)
	}
	var r filterRun
	start := time.Now()
	for _, class := range []string{"spam", "ham"} {
		command(b, nil, 0, binary, append([]string{"train", "-config", cfg, "-" + class}, split["train/"+class]...)...)
	}
	r.train = time.Since(start)
	start = time.Now()
	out := command(b, nil, 0, binary, append(append([]string{"classify", "-config", cfg}, split["test/spam"]...), split["test/ham"]...)...)
	r.classify = time.Since(start)
	scores, _ := classifyScores(b, out, split["test/spam"])
	r.score(scores)
	return r
}

// command runs name with args, the lines of stdin on its standard input,
// and returns its standard output; it fails the benchmark when the command
// fails or exits with a status over maxOK.
func command(b *testing.B, stdin []string, maxOK int, name string, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(strings.Join(stdin, "\n") + "\n")
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() <= maxOK {
		err = nil
	}
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args[:min(len(args), 4)], " "), err, errOut.String())
	}
	return out.String()
}
