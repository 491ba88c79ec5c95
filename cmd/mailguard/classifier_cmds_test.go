package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailguard/evaluate"
)

// vocabulary returns n made-up words of three syllables from syl: each
// class gets its own syllables, so the classes share no words but common.
func vocabulary(syl []string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		out = append(out, syl[i%len(syl)]+syl[(i/len(syl))%len(syl)]+syl[(i/len(syl)/len(syl))%len(syl)])
	}
	return out
}

var (
	spamWords = vocabulary(strings.Fields("ka lo mi ra tu ze po"), 150)
	hamWords  = vocabulary(strings.Fields("be di fu gan hes jor nu"), 150)
	common    = strings.Fields("the and you for this that with have from your are will")
)

// message makes a small message of its class: mostly its class's words,
// some common ones, now and then one of the other class.
func message(rng *rand.Rand, spam bool, id string) string {
	own, other := hamWords, spamWords
	from := "colleague@example.org"
	if spam {
		own, other = spamWords, hamWords
		from = "promo@offers.example"
	}
	var body []string
	for range 40 {
		switch r := rng.IntN(20); {
		case r < 14:
			body = append(body, own[rng.IntN(len(own))])
		case r < 19:
			body = append(body, common[rng.IntN(len(common))])
		default:
			body = append(body, other[rng.IntN(len(other))])
		}
	}
	return fmt.Sprintf("From: %s\nTo: user@example.org\nSubject: %s %s\nMessage-ID: <%s@example>\nDate: Fri, 27 Nov 2026 04:00:00 +0000\n\n%s\n",
		from, own[rng.IntN(len(own))], own[rng.IntN(len(own))], id, strings.Join(body, " "))
}

// corpus writes n messages of each class as files under dir/spam and
// dir/ham, and returns the two folders.
func corpus(t *testing.T, dir string, n int, seed uint64) (spamDir, hamDir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	spamDir, hamDir = filepath.Join(dir, "spam"), filepath.Join(dir, "ham")
	for _, d := range []string{spamDir, hamDir} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		sub := ""
		if i%3 == 0 {
			sub = "sub" // folders are searched recursively
		}
		for _, c := range []struct {
			dir  string
			spam bool
		}{{spamDir, true}, {hamDir, false}} {
			p := filepath.Join(c.dir, sub, fmt.Sprintf("%04d.eml", i))
			if err := os.WriteFile(p, []byte(message(rng, c.spam, fmt.Sprintf("%d.%d.%d", seed, i, map[bool]int{true: 1}[c.spam]))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return spamDir, hamDir
}

func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "mailguard.yaml")
	if err := os.WriteFile(p, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

var learntLine = regexp.MustCompile(`learnt (\d+) (spam|ham) messages from (\d+) files .*: (\d+) new or moved, (\d+) known already`)

func trainOK(t *testing.T, args ...string) (learnt, files, changed int) {
	t.Helper()
	out, errOut, code := runCmd(append([]string{"train"}, args...)...)
	if code != exitOK {
		t.Fatalf("train %v: exit %d\n%s%s", args, code, out, errOut)
	}
	m := learntLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("train output: %q", out)
	}
	learnt, _ = strconv.Atoi(m[1])
	files, _ = strconv.Atoi(m[3])
	changed, _ = strconv.Atoi(m[4])
	return
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestTrainClassify(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	spamDir, hamDir := corpus(t, dir, 250, 1)

	// An mbox of three more spam, and a single ham file given by name.
	rng := rand.New(rand.NewPCG(9, 9))
	var mbox strings.Builder
	for i := range 3 {
		fmt.Fprintf(&mbox, "From promo@offers.example Thu Aug 22 12:34:%02d 2002\n%s\n", i, message(rng, true, fmt.Sprint("mbox", i)))
	}
	mboxPath := filepath.Join(dir, "spam.mbox")
	os.WriteFile(mboxPath, []byte(mbox.String()), 0o644)
	single := filepath.Join(dir, "one.eml")
	os.WriteFile(single, []byte(message(rng, false, "single")), 0o644)

	if n, files, changed := trainOK(t, "-config", cfg, "-spam", spamDir, mboxPath); n != 253 || files != 251 || changed != 253 {
		t.Errorf("spam: learnt %d from %d files, %d changed; want 253 from 251, all new", n, files, changed)
	}
	if n, files, changed := trainOK(t, "-config", cfg, "-ham", hamDir, single); n != 251 || files != 251 || changed != 251 {
		t.Errorf("ham: learnt %d from %d files, %d changed; want 251, all new", n, files, changed)
	}
	// Learning again changes nothing.
	if n, _, changed := trainOK(t, "-config", cfg, "-ham", hamDir); n != 250 || changed != 0 {
		t.Errorf("relearning: %d learnt, %d changed; want 250, none", n, changed)
	}

	db := filepath.Join(dir, "data", "tokens.db")
	before := fileSum(t, db)

	// Fresh messages of each class, as files and in an mbox.
	test := filepath.Join(dir, "test")
	os.MkdirAll(test, 0o755)
	rng = rand.New(rand.NewPCG(42, 42))
	var want []string
	for i := range 10 {
		spam := i%2 == 0
		p := filepath.Join(test, fmt.Sprintf("%02d", i))
		os.WriteFile(p, []byte(message(rng, spam, fmt.Sprint("test", i))), 0o644)
		want = append(want, map[bool]string{true: "spam", false: "ham"}[spam])
	}
	out, errOut, code := runCmd("classify", "-config", cfg, test)
	if code != exitOK {
		t.Fatalf("classify: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("classify printed %d lines:\n%s", len(lines), out)
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[0] != filepath.Join(test, fmt.Sprintf("%02d", i)) {
			t.Fatalf("line %q is not FILE<TAB>LABEL<TAB>PROBABILITY in order", l)
		}
		p, err := strconv.ParseFloat(f[2], 64)
		if err != nil || p < 0 || p > 1 {
			t.Errorf("line %q: probability %v", l, err)
		}
		if strconv.FormatFloat(p, 'g', -1, 64) != f[2] {
			t.Errorf("line %q: probability not printed at full precision", l)
		}
		if f[1] != want[i] {
			t.Errorf("line %q: want %s", l, want[i])
		}
	}

	// -json: the same verdicts, with the tokens that decided.
	out, _, code = runCmd("classify", "-config", cfg, "-json", filepath.Join(test, "00"), filepath.Join(test, "01"))
	if code != exitOK {
		t.Fatalf("classify -json: exit %d", code)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for i := 0; ; i++ {
		var c classified
		if err := dec.Decode(&c); err == io.EOF {
			if i != 2 {
				t.Errorf("%d JSON objects, want 2", i)
			}
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if c.Label != want[i] || !c.Active || len(c.Tokens) == 0 {
			t.Errorf("JSON %d: %+v", i, c)
		}
		// The band the gateway would score, read off the calibrated
		// probability, and the clues counted by side.
		if wantBand := map[string]string{"spam": "BAYES_999", "ham": "BAYES_00"}[want[i]]; c.Band != wantBand || c.Calibrated <= 0 || c.Calibrated >= 1 {
			t.Errorf("JSON %d: band %q, calibrated %v; want %s, strictly between 0 and 1", i, c.Band, c.Calibrated, wantBand)
		}
		if e := c.Evidence; e.Spam+e.Ham != len(c.Tokens) || e.SpamPairs > e.Spam || e.HamPairs > e.Ham || (want[i] == "spam") != (e.Spam > e.Ham) {
			t.Errorf("JSON %d: evidence %+v for %d clues of a %s", i, e, len(c.Tokens), want[i])
		}
		for _, tok := range c.Tokens {
			if tok.Token == "" || tok.Prob <= 0 || tok.Prob >= 1 {
				t.Errorf("clue %+v", tok)
			}
		}
	}
	if fileSum(t, db) != before {
		t.Error("classify changed the token store")
	}

	// Relearning the ham as spam moves it.
	if _, _, changed := trainOK(t, "-config", cfg, "-spam", hamDir); changed != 250 {
		t.Errorf("moving the ham: %d changed, want 250", changed)
	}
	out, _, _ = runCmd("train", "-config", cfg, "-spam", single)
	if !strings.Contains(out, "504 spam and 0 ham messages") {
		t.Errorf("after moving all ham to spam: %s", out)
	}
}

// eval -chain counts what the gateway would do with each held-out message:
// the classifier's near-certain spam is quarantined on its own, ham is
// relayed, GTUBE is rejected on score, a malformed message is refused and
// counted under its kind, and old mail is judged against its own arrival.
func TestEvalChain(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	spamDir, hamDir := corpus(t, dir, 300, 3)
	rng := rand.New(rand.NewPCG(9, 9))
	extra := map[string]string{
		// A duplicate Subject: refused as malformed whatever it scores.
		filepath.Join(spamDir, "dup.eml"):   strings.Replace(message(rng, true, "dup"), "Subject:", "Subject: again\nSubject:", 1),
		filepath.Join(spamDir, "gtube.eml"): strings.Replace(message(rng, true, "gtube"), "\n\n", "\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n", 1),
		// Mail of 2002, stored with its mbox line: it arrived the day it
		// was written, so DATE_IN_PAST must not fire, and the mbox line is
		// no malformed header.
		filepath.Join(hamDir, "old.eml"): "From someone@example.org  Fri Aug 23 10:00:00 2002\n" +
			"Received: from mx.example.org by mail.example.org; Fri, 23 Aug 2002 10:00:00 +0000\n" +
			strings.Replace(message(rng, false, "old"), "Fri, 27 Nov 2026 04:00:00 +0000", "Fri, 23 Aug 2002 09:59:00 +0000", 1),
	}
	// An executable attachment: the attachment policy refuses it, which
	// is not a refusal on score.
	exe := strings.Replace(message(rng, false, "exe"), "\n\n", "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/octet-stream; name=setup.exe\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--b--\n", 1)
	extra[filepath.Join(hamDir, "exe.eml")] = exe
	for p, m := range extra {
		if err := os.WriteFile(p, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-folds", "5", "-chain", "-json")
	if code != exitOK {
		t.Fatalf("eval -chain: exit %d: %s", code, errOut)
	}
	type actions struct {
		Messages, Relayed, Tagged, Quarantined, Rejected int
		Refused                                          map[string]int `json:"refused_malformed"`
		ByCheck                                          map[string]int `json:"by_check"`
	}
	var r struct {
		Spam, Ham actions
		Tests     map[string]struct{ Spam, Ham int }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval -chain -json: %v\n%s", err, out)
	}
	if r.Spam.Messages != 302 || r.Ham.Messages != 302 {
		t.Fatalf("counted %d spam, %d ham; want 302, 302", r.Spam.Messages, r.Ham.Messages)
	}
	if r.Spam.Refused["duplicate_header"] != 1 || r.Spam.Rejected != 1 || r.Spam.Quarantined != 300 {
		t.Errorf("spam: %+v; want 1 refused as duplicate_header, GTUBE rejected, the rest quarantined", r.Spam)
	}
	if r.Ham.Relayed != 301 || len(r.Ham.Refused) != 0 || r.Ham.Rejected != 0 || r.Ham.ByCheck["attachment rejected"] != 1 {
		t.Errorf("ham: %+v; want all relayed but the executable, refused by the attachment policy", r.Ham)
	}
	if n := r.Tests["DATE_IN_PAST"]; n.Ham != 0 {
		t.Errorf("DATE_IN_PAST fired on %d ham: dates must be judged against the message's arrival", n.Ham)
	}
	out, _, code = runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-folds", "3", "-chain")
	if code != exitOK || !strings.Contains(out, "quarantined") || !strings.Contains(out, "duplicate_header 1") {
		t.Errorf("eval -chain text: exit %d\n%s", code, out)
	}
}

func TestClassifierCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	msg := filepath.Join(dir, "m.eml")
	os.WriteFile(msg, []byte("From: a@example.org\n\nhello\n"), 0o644)
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"train", "-config", cfg, msg}, exitUsage, "-spam or -ham"},
		{[]string{"train", "-config", cfg, "-spam", "-ham", msg}, exitUsage, "-spam or -ham"},
		{[]string{"train", "-config", cfg, "-spam"}, exitUsage, "PATH"},
		{[]string{"train", "-config", cfg, "-spam", filepath.Join(dir, "missing")}, exitFailed, "missing"},
		{[]string{"train", "-config", filepath.Join(dir, "nope.yaml"), "-spam", msg}, exitUsage, "nope.yaml"},
		{[]string{"classify", "-config", cfg, msg}, exitFailed, "mailguard train"},
		{[]string{"classify", "-config", cfg}, exitUsage, "no FILE"},
		{[]string{"eval", "-config", cfg, "-spam", dir}, exitUsage, "-ham"},
		{[]string{"eval", "-config", cfg, "-spam", dir, "-ham", dir, "-folds", "1"}, exitUsage, "folds"},
	}
	for _, c := range cases {
		_, errOut, code := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.err)
		}
	}
	// classify refused to run: it did not create a store either.
	if _, err := os.Stat(filepath.Join(dir, "data", "tokens.db")); err == nil {
		t.Error("classify created a token store")
	}
	for _, c := range []string{"train", "classify", "eval"} {
		out, _, code := runCmd(c, "-help")
		if code != exitOK || !strings.Contains(out, "usage: mailguard "+c) {
			t.Errorf("%s -help: exit %d, %q", c, code, out)
		}
	}
}

func TestEval(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	spamDir, hamDir := corpus(t, dir, 300, 2)
	plot := filepath.Join(dir, "roc.svg")
	out, errOut, code := runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-folds", "5", "-plot", plot, "-json")
	if code != exitOK {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var r struct {
		Folds, Spam, Ham         int
		FPR                      float64 `json:"fpr_pct"`
		ROCA                     float64 `json:"one_minus_roca_pct"`
		Train                    float64 `json:"train_msgs_per_s"`
		Classify                 float64 `json:"classify_msgs_per_s"`
		Recall                   float64 `json:"recall_at_fpr_0.1_pct"`
		FalsePositives, Inactive int
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval -json: %v\n%s", err, out)
	}
	if r.Folds != 5 || r.Spam != 300 || r.Ham != 300 || r.Inactive != 0 {
		t.Errorf("report %+v", r)
	}
	if r.ROCA > 1 || r.Recall < 90 || r.Train <= 0 || r.Classify <= 0 {
		t.Errorf("separable mail scored badly or rates missing: %+v", r)
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil || !bytes.Contains(svg, []byte("False-positive rate")) {
		t.Errorf("plot is not an SVG with axis labels: %v", err)
	}
	// Text output, and no token store was made.
	out, _, code = runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-folds", "3")
	if code != exitOK || !strings.Contains(out, "(1-ROCA)%") || !strings.Contains(out, "false positives") {
		t.Errorf("eval text: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("eval created a data directory")
	}
}

// On a corpus too small for min_learned (200 of each class at the
// defaults), the classifier never switches on in a fold: plain eval and
// eval -chain both say so, rather than report figures without it.
func TestEvalWarnsWhenInactive(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	spamDir, hamDir := corpus(t, dir, 60, 4)
	for _, mode := range [][]string{nil, {"-chain"}} {
		args := append([]string{"eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-folds", "2"}, mode...)
		_, errOut, code := runCmd(args...)
		if code != exitOK {
			t.Fatalf("eval %v: exit %d: %s", mode, code, errOut)
		}
		if !strings.Contains(errOut, "120 messages were scored before the classifier had learnt enough of each class") {
			t.Errorf("eval %v: no warning that the classifier never switched on; stderr:\n%s", mode, errOut)
		}
	}
}

// eval -test-mod judges one fixed split instead of folds: only the
// messages whose file name's sha256 mod 10 is one of the digits given are
// tested (by a classifier that learnt the others), in plain eval and in
// eval -chain alike.
func TestEvalSplit(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	spamDir, hamDir := corpus(t, dir, 340, 5)
	want := 0 // spam and ham files carry the same names
	for i := range 340 {
		if evaluate.SplitMod(fmt.Sprintf("%04d.eml", i)) <= 2 {
			want++
		}
	}
	out, errOut, code := runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-test-mod", "0,1,2", "-json")
	if code != exitOK || errOut != "" {
		t.Fatalf("eval -test-mod: exit %d: %s", code, errOut)
	}
	var r struct {
		Folds, Spam, Ham, Inactive int
		TestMods                   []int `json:"test_mods"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval -json: %v\n%s", err, out)
	}
	if r.Spam != want || r.Ham != want || r.Folds != 1 || r.Inactive != 0 || len(r.TestMods) != 3 {
		t.Errorf("report %+v; want %d spam and %d ham tested, the classifier active", r, want, want)
	}
	out, errOut, code = runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-test-mod", "0,1,2", "-chain", "-json")
	if code != exitOK {
		t.Fatalf("eval -chain -test-mod: exit %d: %s", code, errOut)
	}
	var c struct {
		Spam, Ham struct{ Messages, Quarantined int }
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("eval -chain -json: %v\n%s", err, out)
	}
	if c.Spam.Messages != want || c.Ham.Messages != want || c.Spam.Quarantined != want {
		t.Errorf("chain counted %+v; want %d of each, all spam quarantined", c, want)
	}
	out, _, code = runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-test-mod", "6,7,8")
	if code != exitOK || !strings.Contains(out, "tested where sha256(file name) mod 10 is 6,7,8") {
		t.Errorf("eval -test-mod text: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"0,x", "10", "1,1", "0,1,2,3,4,5,6,7,8,9"} {
		_, errOut, code := runCmd("eval", "-config", cfg, "-spam", spamDir, "-ham", hamDir, "-test-mod", bad)
		if code != exitUsage || !strings.Contains(errOut, "-test-mod") {
			t.Errorf("-test-mod %s: exit %d, stderr %q; want a usage error", bad, code, errOut)
		}
	}
}
