package evaluate

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"mailguard/classifier"
)

// hand is small enough to check by pairs: spam 0.9 and 0.8 beat all four
// ham; each spam 0.4 beats two ham and ties one (half): 13 of 16 pairs.
var hand = []Score{
	{true, 0.9}, {true, 0.8}, {true, 0.4}, {true, 0.4},
	{false, 0.1}, {false, 0.4}, {false, 0.5}, {false, 0.2},
}

func TestOneMinusROCA(t *testing.T) {
	cases := []struct {
		name   string
		scores []Score
		want   float64
	}{
		{"hand", hand, 100 * 3.0 / 16},
		{"perfect", []Score{{true, 1}, {false, 0}}, 0},
		{"inverted", []Score{{true, 0}, {false, 1}}, 100},
		{"all tied", []Score{{true, 0.5}, {false, 0.5}, {true, 0.5}}, 50},
		{"no ham", []Score{{true, 0.5}}, math.NaN()},
	}
	for _, c := range cases {
		got := OneMinusROCA(c.scores)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) && math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: (1-ROCA)%% = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRecallAtFPR(t *testing.T) {
	for _, c := range []struct{ fpr, want float64 }{
		{0.001, 50}, // no ham may pass: the cut is the top ham, 0.5
		{0.25, 50},  // one may: the cut is the second ham, 0.4, and a tie is not above it
		{0.5, 100},  // the cut is 0.2
		{1, 100},
	} {
		if got := RecallAtFPR(hand, c.fpr); got != c.want {
			t.Errorf("recall at %v = %v, want %v", c.fpr, got, c.want)
		}
	}
}

func TestCurve(t *testing.T) {
	want := []Point{{0, 0}, {0, 0.25}, {0, 0.5}, {0.25, 0.5}, {0.5, 1}, {0.75, 1}, {1, 1}}
	if got := Curve(hand); !reflect.DeepEqual(got, want) {
		t.Errorf("Curve = %v\nwant %v", got, want)
	}
}

// TestAgainstRocPy compares with the shared evaluation script, on scores
// with many ties, when the script and python3 are there.
func TestAgainstRocPy(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "shared", "eval", "roc.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("roc.py not found at %s", script)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var scores []Score
	var buf bytes.Buffer
	for i := range 3000 {
		spam := i%3 == 0
		v := rng.NormFloat64()
		if spam {
			v += 2.5
		}
		v = math.Round(v*20) / 20 // ties
		scores = append(scores, Score{spam, v})
		fmt.Fprintf(&buf, "%s %v\n", map[bool]string{true: "spam", false: "ham"}[spam], v)
	}
	path := filepath.Join(t.TempDir(), "scores")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, path).Output()
	if err != nil {
		t.Fatalf("roc.py: %v", err)
	}
	got := map[string]float64{}
	for _, kv := range strings.Fields(string(out)) {
		k, v, _ := strings.Cut(kv, "=")
		got[k], _ = strconv.ParseFloat(v, 64)
	}
	round := func(v float64, d int) float64 { p := math.Pow(10, float64(d)); return math.Round(v*p) / p }
	if w := round(OneMinusROCA(scores), 4); w != got["one_minus_roca_pct"] {
		t.Errorf("(1-ROCA)%% = %v, roc.py says %v", w, got["one_minus_roca_pct"])
	}
	if w := round(RecallAtFPR(scores, 0.001), 2); w != got["recall_at_fpr_0.1_pct"] {
		t.Errorf("recall at 0.1%% = %v, roc.py says %v", w, got["recall_at_fpr_0.1_pct"])
	}
	if w := round(RecallAtFPR(scores, 0.01), 2); w != got["recall_at_fpr_1_pct"] {
		t.Errorf("recall at 1%% = %v, roc.py says %v", w, got["recall_at_fpr_1_pct"])
	}
}

// synthetic makes messages whose words lean to their class.
func synthetic(n int) []Sample {
	rng := rand.New(rand.NewPCG(5, 6))
	var out []Sample
	for i := range n {
		spam := i%2 == 0
		var toks []string
		for range 30 {
			w := rng.IntN(200)
			if rng.IntN(10) < 7 { // mostly words of its own class
				if spam {
					w = 200 + rng.IntN(100)
				} else {
					w = 300 + rng.IntN(100)
				}
			}
			toks = append(toks, fmt.Sprint("w", w))
		}
		out = append(out, Sample{Name: fmt.Sprint("m", i), Spam: spam, Digest: fmt.Sprint("d", i), Tokens: toks})
	}
	return out
}

func TestCrossValidate(t *testing.T) {
	cfg := classifier.DefaultConfig()
	cfg.MinLearned = 10
	samples := synthetic(400)
	r, err := CrossValidate(context.Background(), Config{Folds: 5, Classifier: cfg}, samples)
	if err != nil {
		t.Fatal(err)
	}
	if r.Spam != 200 || r.Ham != 200 || len(r.Scores) != 400 || r.Inactive != 0 {
		t.Fatalf("report counts: %+v", r)
	}
	if r.OneMinusROCAPct > 1 || r.FPRPct > 1 || r.FNRPct > 1 {
		t.Errorf("separable classes scored badly: %+v", r)
	}
	if r.TrainMsgsPerSec <= 0 || r.ClassifyMsgsPerSec <= 0 {
		t.Errorf("rates not measured: %+v", r)
	}
	// Deterministic: the same folds, the same scores.
	r2, err := CrossValidate(context.Background(), Config{Folds: 5, Classifier: cfg, Workers: 1}, samples)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Scores, r2.Scores) {
		t.Error("two runs scored differently")
	}
	// Each message is tested by a classifier that never learnt it: when
	// every message has only words of its own, nothing is known of any.
	var unique []Sample
	for i := range 100 {
		unique = append(unique, Sample{Spam: i%2 == 0, Digest: fmt.Sprint("u", i), Tokens: []string{fmt.Sprint("only", i), fmt.Sprint("solely", i)}})
	}
	ru, err := CrossValidate(context.Background(), Config{Folds: 10, Classifier: cfg}, unique)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range ru.Scores {
		if s.Score != 0 {
			t.Fatalf("message %d scored %v: it was learnt before being tested", i, s.Score)
		}
	}
	if _, err := CrossValidate(context.Background(), Config{Folds: 1}, samples); err == nil {
		t.Error("one fold accepted")
	}
}

func TestFoldSpread(t *testing.T) {
	n := make([]int, 10)
	for i := range 10000 {
		n[Fold(fmt.Sprint("digest", i), 10)]++
	}
	for f, c := range n {
		if c < 800 || c > 1200 {
			t.Errorf("fold %d has %d of 10000", f, c)
		}
	}
}

func TestPlot(t *testing.T) {
	cfg := classifier.DefaultConfig()
	cfg.MinLearned = 10
	r, err := CrossValidate(context.Background(), Config{Folds: 4, Classifier: cfg}, synthetic(200))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Plot(&buf, r); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var texts []string
	paths := 0
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not valid XML: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
			if se.Name.Local == "text" {
				var s string
				if err := dec.DecodeElement(&s, &se); err != nil {
					t.Fatal(err)
				}
				texts = append(texts, s)
			}
		}
	}
	all := strings.Join(texts, "|")
	if root != "svg" || paths < 2 {
		t.Errorf("root %q, %d paths", root, paths)
	}
	for _, want := range []string{"False-positive rate", "log scale", "Spam recall", "0.1%", "100%", "(1-ROCA)%", "spam_cutoff"} {
		if !strings.Contains(all, want) {
			t.Errorf("plot lacks %q; texts: %v", want, texts)
		}
	}
}

// A fixed split is drawn from the file name alone, as sha256 of the name
// mod 10 (so any tool can draw the same one): these digits were computed
// apart from this code.
func TestSplitMod(t *testing.T) {
	for name, want := range map[string]int{
		"00001.7c53336b37003a9286aba55d2945844c":            1,
		"corpus/ham/00203.f60fed4761dba24a8e626e8280d53191": 8,
		"a":          9,
		"spam-1.eml": 5,
	} {
		if got := SplitMod(name); got != want {
			t.Errorf("SplitMod(%q) = %d, want %d", name, got, want)
		}
	}
}

// With TestMods, only the split's test part is scored and reported, each
// by a classifier that learnt the rest and not it.
func TestCrossValidateSplit(t *testing.T) {
	cfg := classifier.DefaultConfig()
	cfg.MinLearned = 10
	samples := synthetic(400)
	mods := []int{0, 1, 2}
	r, err := CrossValidate(context.Background(), Config{Folds: 10, TestMods: mods, Classifier: cfg}, samples)
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, s := range samples {
		if m := SplitMod(s.Name); m <= 2 {
			tested[s.Name] = true
		}
	}
	if len(r.Names) != len(tested) || r.Spam+r.Ham != len(tested) || len(tested) == 0 || len(tested) == len(samples) {
		t.Fatalf("reported %d messages (%d spam, %d ham), the test part holds %d of %d", len(r.Names), r.Spam, r.Ham, len(tested), len(samples))
	}
	for _, n := range r.Names {
		if !tested[n] {
			t.Errorf("%s reported but not in the test part", n)
		}
	}
	if r.Folds != 1 || !reflect.DeepEqual(r.TestMods, mods) || r.Inactive != 0 {
		t.Errorf("report: folds %d, test mods %v, inactive %d", r.Folds, r.TestMods, r.Inactive)
	}
	if r.OneMinusROCAPct > 1 {
		t.Errorf("separable classes scored badly on the split: %v", r.OneMinusROCAPct)
	}
	// A message of the test part is never learnt first.
	var unique []Sample
	for i := range 100 {
		unique = append(unique, Sample{Name: fmt.Sprint("u", i), Spam: i%2 == 0, Digest: fmt.Sprint("u", i), Tokens: []string{fmt.Sprint("only", i)}})
	}
	ru, err := CrossValidate(context.Background(), Config{Folds: 10, TestMods: mods, Classifier: cfg}, unique)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range ru.Scores {
		if s.Score != 0 {
			t.Fatalf("%s scored %v: it was learnt before being tested", ru.Names[i], s.Score)
		}
	}
}
