package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mailguard/evaluate"
)

// The classifier's commands as an operator runs them: train on folders and
// mbox files, classify a set, cross-validate, with the token store in
// data_dir.

// e2eWords returns n made-up words of three syllables from syl: each
// class gets its own syllables, so the classes share no words.
func e2eWords(syl []string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		out = append(out, syl[i%len(syl)]+syl[(i/len(syl))%len(syl)]+syl[(i/len(syl)/len(syl))%len(syl)])
	}
	return out
}

var (
	e2eSpamWords = e2eWords(strings.Fields("ka lo mi ra tu ze po"), 150)
	e2eHamWords  = e2eWords(strings.Fields("be di fu gan hes jor nu"), 150)
)

func e2eMessage(rng *rand.Rand, spam bool, id string) string {
	own, other := e2eHamWords, e2eSpamWords
	if spam {
		own, other = e2eSpamWords, e2eHamWords
	}
	var body []string
	for range 30 {
		if rng.IntN(20) == 0 {
			body = append(body, other[rng.IntN(len(other))])
		} else {
			body = append(body, own[rng.IntN(len(own))])
		}
	}
	return fmt.Sprintf("From: sender%d@example.net\nTo: user@example.org\nSubject: %s\nMessage-ID: <%s@example.net>\n\n%s\n",
		rng.IntN(50), own[rng.IntN(len(own))], id, strings.Join(body, " "))
}

// smallCorpus writes n spam as one mbox and n ham as files, plus a test set.
func smallCorpus(t *testing.T, dir string, n int) (spamMbox, hamDir, testDir string, want map[string]string) {
	rng := rand.New(rand.NewPCG(7, 7))
	var mbox strings.Builder
	for i := range n {
		fmt.Fprintf(&mbox, "From bulk@example.net Thu Aug 22 12:34:56 2002\n%s\n", e2eMessage(rng, true, fmt.Sprint("s", i)))
	}
	spamMbox = filepath.Join(dir, "spam.mbox")
	os.WriteFile(spamMbox, []byte(mbox.String()), 0o644)
	hamDir = filepath.Join(dir, "ham")
	os.MkdirAll(filepath.Join(hamDir, "cur"), 0o755)
	for i := range n {
		os.WriteFile(filepath.Join(hamDir, "cur", fmt.Sprintf("%d.eml", i)), []byte(e2eMessage(rng, false, fmt.Sprint("h", i))), 0o644)
	}
	testDir = filepath.Join(dir, "test")
	os.MkdirAll(testDir, 0o755)
	want = map[string]string{}
	for i := range 20 {
		p := filepath.Join(testDir, fmt.Sprintf("t%02d", i))
		os.WriteFile(p, []byte(e2eMessage(rng, i%2 == 0, fmt.Sprint("t", i))), 0o644)
		want[p] = map[bool]string{true: "spam", false: "ham"}[i%2 == 0]
	}
	return
}

func TestClassifierCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := WriteConfig(t, dir, "mailguard.yaml", map[string]any{"data_dir": filepath.Join(dir, "data")})
	spamMbox, hamDir, testDir, want := smallCorpus(t, dir, 220)

	out, errOut, code := Run(t, nil, "train", "-config", cfg, "-spam", spamMbox)
	if code != 0 || !strings.Contains(out, "learnt 220 spam messages from 1 files") {
		t.Fatalf("train -spam: exit %d\n%s%s", code, out, errOut)
	}
	// Not a terminal: no progress bar escapes in the output.
	if strings.Contains(errOut, "\r") || strings.Contains(errOut, "\x1b[") {
		t.Errorf("progress bar drawn on a pipe: %q", errOut)
	}
	out, errOut, code = Run(t, nil, "train", "-config", cfg, "-ham", hamDir)
	if code != 0 || !strings.Contains(out, "learnt 220 ham messages from 220 files") || !strings.Contains(out, "220 spam and 220 ham messages") {
		t.Fatalf("train -ham: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "tokens.db")); err != nil {
		t.Fatalf("no token store in data_dir: %v", err)
	}

	out, errOut, code = Run(t, nil, "classify", "-config", cfg, testDir)
	if code != 0 {
		t.Fatalf("classify: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("classify printed %d lines for %d messages", len(lines), len(want))
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("line %q", l)
		}
		if _, err := strconv.ParseFloat(f[2], 64); err != nil {
			t.Errorf("line %q: %v", l, err)
		}
		if want[f[0]] != f[1] {
			t.Errorf("%s: %s, want %s", f[0], f[1], want[f[0]])
		}
	}

	out, errOut, code = Run(t, nil, "eval", "-config", cfg, "-spam", spamMbox, "-ham", hamDir, "-folds", "4", "-json", "-plot", filepath.Join(dir, "roc.svg"))
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var r evaluate.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval -json: %v\n%s", err, out)
	}
	if r.Spam != 220 || r.Ham != 220 || r.Folds != 4 {
		t.Errorf("eval counted %d spam, %d ham, %d folds", r.Spam, r.Ham, r.Folds)
	}
	if svg, err := os.ReadFile(filepath.Join(dir, "roc.svg")); err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("no plot: %v", err)
	}
}

// TestClassifierCorpus trains on 70% of the SpamAssassin corpus (split as
// the shared split.py does) and classifies the rest in one run.
func TestClassifierCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	split := corpusSplit(t)
	dir := t.TempDir()
	cfg := WriteConfig(t, dir, "mailguard.yaml", map[string]any{"data_dir": filepath.Join(dir, "data")})
	for _, class := range []string{"spam", "ham"} {
		args := append([]string{"train", "-config", cfg, "-" + class}, split["train/"+class]...)
		if out, errOut, code := Run(t, nil, args...); code != 0 {
			t.Fatalf("train -%s: exit %d\n%s%s", class, code, out, errOut)
		} else {
			t.Log(strings.TrimSpace(out))
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "data", "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("token store: %d bytes", fi.Size())
	if fi.Size() > 100<<20 {
		t.Errorf("token store is %d MB, over 100 MB", fi.Size()>>20)
	}
	args := append([]string{"classify", "-config", cfg}, split["test/spam"]...)
	args = append(args, split["test/ham"]...)
	out, errOut, code := Run(t, nil, args...)
	if code != 0 {
		t.Fatalf("classify: exit %d: %s", code, errOut)
	}
	scores, labels := classifyScores(t, out, split["test/spam"])
	wrong := 0
	for i, s := range scores {
		if (labels[i] == "spam") != s.Spam && labels[i] != "unsure" {
			wrong++
		}
	}
	n := len(split["test/spam"]) + len(split["test/ham"])
	if len(scores) != n {
		t.Fatalf("classify printed %d lines for %d messages", len(scores), n)
	}
	roca := evaluate.OneMinusROCA(scores)
	t.Logf("%d messages: %d wrong, (1-ROCA)%% %.4f, recall at 0.1%% FPR %.2f%%", n, wrong, roca, evaluate.RecallAtFPR(scores, 0.001))
	// A sanity bound: the targets are the classifier's own benchmark.
	if roca > 0.5 || wrong > n/50 {
		t.Errorf("classifier far off: (1-ROCA)%% %.4f, %d of %d wrong", roca, wrong, n)
	}
}

// classifyScores reads classify's lines (FILE, LABEL, PROBABILITY) into
// scores, a message being spam when its FILE is among spam, and labels.
func classifyScores(tb testing.TB, out string, spam []string) ([]evaluate.Score, []string) {
	tb.Helper()
	isSpam := map[string]bool{}
	for _, p := range spam {
		isSpam[p] = true
	}
	var scores []evaluate.Score
	var labels []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			tb.Fatalf("classify printed %q: want FILE, LABEL and PROBABILITY", l)
		}
		p, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			tb.Fatalf("classify printed %q: %v", l, err)
		}
		scores = append(scores, evaluate.Score{Spam: isSpam[f[0]], Score: p})
		labels = append(labels, f[1])
	}
	return scores, labels
}

// corpusSplit splits the SpamAssassin corpus as the shared split.py does
// (a file is test data when sha256 of its name mod 10 < 3) into file lists
// under "train/spam", "train/ham", "test/spam" and "test/ham"; it skips
// when the corpus is absent.
func corpusSplit(tb testing.TB) map[string][]string {
	tb.Helper()
	return corpusSplitMod(tb, 0, 1, 2)
}

// corpusSplitMod is corpusSplit with the test data the files whose name's
// sha256 mod 10 is one of test, as `mailguard eval -test-mod` splits.
func corpusSplitMod(tb testing.TB, test ...int) map[string][]string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	corpus := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "spamassassin")
	if _, err := os.Stat(filepath.Join(corpus, "spam")); err != nil {
		tb.Skipf("the SpamAssassin corpus is not at %s", corpus)
	}
	split := map[string][]string{}
	for _, class := range []string{"spam", "ham"} {
		entries, err := os.ReadDir(filepath.Join(corpus, class))
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			part := "train"
			if slices.Contains(test, mod10(sha256.Sum256([]byte(e.Name())))) {
				part = "test"
			}
			split[part+"/"+class] = append(split[part+"/"+class], filepath.Join(corpus, class, e.Name()))
		}
	}
	return split
}

// mod10 is a 256-bit big-endian number modulo 10.
func mod10(b [32]byte) int {
	r := 0
	for _, c := range b {
		r = (r*256 + int(c)) % 10
	}
	return r
}
