package rules

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/filters"
	"mailguard/resolver"
)

func TestClassifierConfig(t *testing.T) {
	def := Default().Classifier
	if !def.Enabled || def.Autolearn.Enabled || def.MaxTokens != 2_000_000 || def.Weights["BAYES_99"] != 7 || def.Weights["BAYES_999"] != 10 {
		t.Errorf("defaults %+v: want enabled, autolearn off, 2000000 tokens, mailguard's BAYES_* weights", def)
	}
	if !reflect.DeepEqual(def.Scoring(), classifier.DefaultConfig()) {
		t.Errorf("default scoring %+v, want classifier.DefaultConfig %+v", def.Scoring(), classifier.DefaultConfig())
	}
	cfg, err := Parse("test.yaml", []byte(`
classifier:
  s: 0.3
  max_clues: 50
  spam_cutoff: 0.95
  min_learned: 10
  weights: {BAYES_99: 5}
  calibration: [{odds: -1, prob: 0.01}, {odds: 0, prob: 0.5}, {odds: 2.5, prob: 0.999}]
  autolearn: {enabled: true, spam_score: 9}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Classifier
	sc := c.Scoring()
	if sc.S != 0.3 || sc.MaxClues != 50 || sc.SpamCutoff != 0.95 || sc.MinLearned != 10 || sc.MinDev != classifier.DefaultConfig().MinDev {
		t.Errorf("scoring %+v: want the keys set and the other defaults", sc)
	}
	if want := (classifier.Calibration{{Odds: -1, Prob: 0.01}, {Odds: 0, Prob: 0.5}, {Odds: 2.5, Prob: 0.999}}); !reflect.DeepEqual(sc.Calibration, want) {
		t.Errorf("calibration %v, want %v", sc.Calibration, want)
	}
	if c.Weights["BAYES_99"] != 5 || c.Weights["BAYES_00"] != classifier.DefaultWeights()["BAYES_00"] {
		t.Errorf("weights %v: want BAYES_99 5 and the other defaults", c.Weights)
	}
	if !c.Autolearn.Enabled || c.Autolearn.SpamScore != 9 || c.Autolearn.HamMaxScore != 0 {
		t.Errorf("autolearn %+v", c.Autolearn)
	}
}

func TestClassifierConfigProblems(t *testing.T) {
	tests := []problemCase{
		{"classifier: {s: 0}", "classifier.s", "over 0"},
		{"classifier: {x: 1}", "classifier.x", "between 0 and 1"},
		{"classifier: {min_dev: 0.5}", "classifier.min_dev", "under 0.5"},
		{"classifier: {max_clues: 0}", "classifier.max_clues", "at least 1"},
		{"classifier: {ham_cutoff: 0.9, spam_cutoff: 0.8}", "classifier.spam_cutoff", "ham_cutoff"},
		{"classifier: {min_learned: -1}", "classifier.min_learned", "negative"},
		{"classifier: {max_tokens: 10}", "classifier.max_tokens", "at least 1000"},
		{"classifier: {weights: {BAYES_98: 1}}", "classifier.weights.BAYES_98", "did you mean BAYES_9"},
		{"classifier: {calibration: []}", "classifier.calibration", "at least one step"},
		{"classifier: {calibration: [{odds: 1, prob: 0.5}, {odds: 0, prob: 0.6}]}", "classifier.calibration", "odds must increase"},
		{"classifier: {calibration: [{odds: 0, prob: 0.5}, {odds: 1, prob: 0.4}]}", "classifier.calibration", "must not decrease"},
		{"classifier: {calibration: [{odds: 0, prob: 1.5}]}", "classifier.calibration", "between 0 and 1"},
		{"classifier: {autolearn: {spam_score: 0}}", "classifier.autolearn.spam_score", "over 0"},
		{"classifier: {autolearn: {ham_max_score: 20}}", "classifier.autolearn.ham_max_score", "under spam_score"},
	}
	expectProblems(t, 0, tests)
}

// The classifier takes its place in the chain without touching the token
// database, which opens with the first message.
func TestBuildClassifier(t *testing.T) {
	res, err := resolver.New(resolver.Config{Server: "127.0.0.1:1", CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := Default()
	cfg.DataDir = dir + "/data"
	d := &Deps{Resolver: res}
	defer d.Close()
	chain, err := BuildChain(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	var f filters.Filter
	for _, x := range chain.Filters() {
		if x.Name() == "classifier" {
			f = x
		}
	}
	if f == nil {
		t.Fatal("default chain lacks the classifier")
	}
	if len(d.order) != 0 {
		t.Errorf("building the chain opened %v", d.order)
	}
	// The first message reads the embedded store, which is opened per
	// message and need not exist yet; with nothing learnt the classifier
	// says so in X-Spam-Status.
	tx := filters.NewTransaction(&filters.ClientConn{}, "Q1")
	out := chain.Data(context.Background(), tx, filters.NewMessage([]byte("From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n")))
	var status string
	for _, h := range out.Headers {
		if h.Name == "X-Spam-Status" {
			status = h.Value
		}
	}
	if !strings.Contains(status, classifier.TestInactive+"=0.0") {
		t.Errorf("X-Spam-Status %q, want %s=0.0", status, classifier.TestInactive)
	}
	if len(d.order) != 1 || d.order[0] != tokenStoreKey {
		t.Errorf("the first message did not set up the token store: shared %v", d.order)
	}
	if _, err := os.Stat(cfg.DataPath(boltstore.FileName)); err == nil {
		t.Error("reading an empty token store created its file")
	}
	cfg.Classifier.Enabled = false
	chain, err = BuildChain(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range chain.Filters() {
		if x.Name() == "classifier" {
			t.Error("classifier in the chain though disabled")
		}
	}
}
