package e2e

import (
	"bytes"
	"context"
	"encoding/json"
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

// BenchmarkWorstHamVsBogofilter sets the ham that alone holds the most
// misordered ham-spam pairs beside bogofilter's, on the three fixed splits
// the classifier's changes are checked on (test digits 0-2, 3-5 and 6-8
// of sha256(file name) mod 10): mailguard's from `mailguard eval -test-mod
// -json`, bogofilter's trained and scored as bogo.sh does. It prints one
// table and reports each worst ham's share of the pairs.
func BenchmarkWorstHamVsBogofilter(b *testing.B) {
	corpusSplit(b)
	if _, err := exec.LookPath("bogofilter"); err != nil {
		b.Skip("bogofilter is not installed (Debian package bogofilter; make bench installs it as root)")
	}
	splits := []string{"0,1,2", "3,4,5", "6,7,8"}
	var t strings.Builder
	fmt.Fprintf(&t, "\nthe ham in the most misordered ham-spam pairs, per split (test digits of sha256(file name) mod 10)\n")
	fmt.Fprintf(&t, "%-6s %-10s %10s %9s %11s %11s  %s\n", "split", "filter", "(1-ROCA)%", "recall%", "misordered", "worst ham", "its file")
	for b.Loop() {
		t.Reset()
		for _, name := range splits {
			var digits []int
			for _, d := range strings.Split(name, ",") {
				digits = append(digits, int(d[0]-'0'))
			}
			split := corpusSplitMod(b, digits...)
			bogo := runBogofilter(b, split)
			mg := evalMailguard(b, split, name)
			for _, r := range []struct {
				filter string
				run    filterRun
			}{{"mailguard", mg}, {"bogofilter", bogo}} {
				w, pairs := r.run.worst, 0.0
				if w.SharePct > 0 {
					pairs = w.Misordered * 100 / w.SharePct
				}
				fmt.Fprintf(&t, "%-6s %-10s %10.4f %9.2f %11.1f %10.0f%%  %s\n", name, r.filter, r.run.roca, r.run.recall, pairs, w.SharePct, filepath.Base(w.Name))
				b.ReportMetric(w.SharePct, r.filter+"-worst-ham-%-"+strings.ReplaceAll(name, ",", ""))
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	fmt.Print(t.String())
}

// evalMailguard runs `mailguard eval -test-mod mod` on the corpus split
// was made from (its test files are those of the digits in mod) and reads
// its report.
func evalMailguard(b *testing.B, split map[string][]string, mod string) filterRun {
	spamDir := filepath.Dir(split["test/spam"][0])
	hamDir := filepath.Dir(split["test/ham"][0])
	out := command(b, nil, 0, binary, "eval", "-spam", spamDir, "-ham", hamDir, "-test-mod", mod, "-json")
	var rep struct {
		ROCA     float64                `json:"one_minus_roca_pct"`
		Recall   float64                `json:"recall_at_fpr_0.1_pct"`
		WorstHam []evaluate.Contributor `json:"worst_ham"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.WorstHam) == 0 {
		b.Fatalf("mailguard eval -json printed %.200q: %v", out, err)
	}
	return filterRun{roca: rep.ROCA, recall: rep.Recall, worst: rep.WorstHam[0]}
}

// filterRun is one filter's figures on the split.
type filterRun struct {
	train, classify time.Duration
	roca, recall    float64
	worst           evaluate.Contributor // the ham in the most misordered pairs
}

func (r *filterRun) score(scores []evaluate.Score, names []string) {
	r.roca = evaluate.OneMinusROCA(scores)
	r.recall = evaluate.RecallAtFPR(scores, 0.001)
	if names != nil {
		if ham, _ := evaluate.WorstContributors(scores, names, 1); len(ham) > 0 {
			r.worst = ham[0]
		}
	}
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
	var names []string
	for _, class := range []string{"spam", "ham"} {
		names = append(names, split["test/"+class]...)
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
	if len(names) != len(scores) {
		b.Fatalf("bogofilter scored %d of %d messages", len(scores), len(names))
	}
	r.score(scores, names)
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
	r.score(scores, nil)
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
