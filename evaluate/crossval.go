package evaluate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"math/big"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"mailguard/classifier"
)

// Sample is one labelled, tokenized message.
type Sample struct {
	Name   string
	Spam   bool
	Digest string
	Tokens []string
	// Raw is the message itself, for runs of the whole chain; nil
	// otherwise.
	Raw []byte
}

// Config sets up a cross-validation run.
type Config struct {
	// Folds is k; each message is tested once, by a classifier trained on
	// the other k-1 folds. At least 2.
	Folds int
	// Classifier is the scoring configuration, bands included.
	Classifier classifier.Config
	// Workers classify in parallel; 0 means one per CPU.
	Workers int
	// TokenizeTime is the wall time the samples took to read and tokenize
	// (once, for all folds); it is part of both rates.
	TokenizeTime time.Duration
	// TestMods, when not empty, replaces the folds by one fixed train/test
	// split (see SplitFold): the messages whose file name's SplitMod is one
	// of TestMods are tested, by a classifier that learnt all the others,
	// and only they are reported.
	TestMods []int
}

// Report is what a cross-validation run found. Percentages are of the
// class named (FPR: of ham; FNR: of spam) or of all messages (Unsure).
type Report struct {
	// Folds is k; 1 for a fixed split, whose test part TestMods names.
	Folds      int     `json:"folds"`
	TestMods   []int   `json:"test_mods,omitempty"`
	Spam       int     `json:"spam"`
	Ham        int     `json:"ham"`
	HamCutoff  float64 `json:"ham_cutoff"`
	SpamCutoff float64 `json:"spam_cutoff"`
	// FPRPct: ham labelled spam; FNRPct: spam labelled ham; UnsurePct:
	// messages labelled unsure.
	FalsePositives int     `json:"false_positives"`
	FalseNegatives int     `json:"false_negatives"`
	Unsure         int     `json:"unsure"`
	FPRPct         float64 `json:"fpr_pct"`
	FNRPct         float64 `json:"fnr_pct"`
	UnsurePct      float64 `json:"unsure_pct"`
	UnsureSpamPct  float64 `json:"unsure_spam_pct"`
	UnsureHamPct   float64 `json:"unsure_ham_pct"`
	// OneMinusROCAPct is (1-ROCA)%, lower is better.
	OneMinusROCAPct float64 `json:"one_minus_roca_pct"`
	// RecallAt01Pct and RecallAt1Pct: spam recall when at most 0.1% and 1%
	// of the ham is marked spam.
	RecallAt01Pct float64 `json:"recall_at_fpr_0.1_pct"`
	RecallAt1Pct  float64 `json:"recall_at_fpr_1_pct"`
	// Inactive counts messages scored by a classifier that had not yet
	// learnt its minimum of each class (they get 0.5, unsure).
	Inactive int `json:"inactive"`
	// The rates include reading and tokenizing each message once.
	TrainMsgsPerSec    float64 `json:"train_msgs_per_s"`
	ClassifyMsgsPerSec float64 `json:"classify_msgs_per_s"`
	// Scores are every message's log-odds, for the ROC curve; Names name
	// them, index for index.
	Scores []Score  `json:"-"`
	Names  []string `json:"-"`
	// Results are every message's held-out classifier result.
	Results []classifier.Result `json:"-"`
	// WorstHam and WorstSpam are the messages in the most misordered
	// pairs (see WorstContributors).
	WorstHam  []Contributor `json:"worst_ham"`
	WorstSpam []Contributor `json:"worst_spam"`
	// Reliability is the reliability table of the configured calibration
	// on the held-out results; FittedCalibration is the calibration these
	// held-out results themselves give (classifier.FitCalibration), for
	// classifier.calibration.
	Reliability       []BandRow              `json:"reliability"`
	FittedCalibration classifier.Calibration `json:"fitted_calibration"`
}

// worstShown is how many of the worst contributors a report lists.
const worstShown = 10

// Fold returns the fold of a message: from its digest, so a run is
// repeatable and copies of one message are tested together.
func Fold(digest string, folds int) int {
	h := fnv.New64a()
	h.Write([]byte(digest))
	return int(h.Sum64() % uint64(folds))
}

const learnBatch = 500

// CrossValidate runs k-fold cross-validation on samples, each fold with a
// fresh in-memory store.
func CrossValidate(ctx context.Context, cfg Config, samples []Sample) (*Report, error) {
	if cfg.Folds < 2 {
		return nil, fmt.Errorf("cross-validation needs at least 2 folds, got %d", cfg.Folds)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	fold, rounds := plan(samples, cfg.Folds, cfg.TestMods)
	results := make([]classifier.Result, len(samples))
	var learnTime, classifyTime time.Duration
	learnt := 0
	for f := range rounds {
		start := time.Now()
		c, st, test, n, err := trainFold(ctx, cfg.Classifier, samples, fold, f)
		learnt += n
		if err != nil {
			return nil, err
		}
		learnTime += time.Since(start)

		start = time.Now()
		err = forEach(test, workers, func(i int) error {
			res, err := c.Classify(ctx, samples[i].Tokens)
			results[i] = res
			return err
		}, samples)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		classifyTime += time.Since(start)
	}

	r := &Report{Folds: rounds, TestMods: cfg.TestMods, HamCutoff: cfg.Classifier.HamCutoff, SpamCutoff: cfg.Classifier.SpamCutoff}
	if len(cfg.TestMods) > 0 {
		// A fixed split: only its test part was scored.
		var kept []Sample
		var keptResults []classifier.Result
		for i, s := range samples {
			if fold[i] < rounds {
				kept = append(kept, s)
				keptResults = append(keptResults, results[i])
			}
		}
		samples, results = kept, keptResults
	}
	var fp, fn, unsureSpam, unsureHam int
	r.Scores = make([]Score, len(samples))
	r.Names = make([]string, len(samples))
	r.Results = results
	for i, s := range samples {
		res := results[i]
		r.Scores[i] = Score{Spam: s.Spam, Score: res.LogOdds}
		r.Names[i] = s.Name
		if !res.Active {
			r.Inactive++
		}
		if s.Spam {
			r.Spam++
		} else {
			r.Ham++
		}
		switch {
		case res.Label == classifier.Spam && !s.Spam:
			fp++
		case res.Label == classifier.Ham && s.Spam:
			fn++
		case res.Label == classifier.Unsure && s.Spam:
			unsureSpam++
		case res.Label == classifier.Unsure:
			unsureHam++
		}
	}
	r.FalsePositives, r.FalseNegatives, r.Unsure = fp, fn, unsureSpam+unsureHam
	r.FPRPct = pct(fp, r.Ham)
	r.FNRPct = pct(fn, r.Spam)
	r.UnsurePct = pct(unsureSpam+unsureHam, len(samples))
	r.UnsureSpamPct = pct(unsureSpam, r.Spam)
	r.UnsureHamPct = pct(unsureHam, r.Ham)
	r.OneMinusROCAPct = OneMinusROCA(r.Scores)
	r.RecallAt01Pct = RecallAtFPR(r.Scores, 0.001)
	r.RecallAt1Pct = RecallAtFPR(r.Scores, 0.01)
	r.WorstHam, r.WorstSpam = WorstContributors(r.Scores, r.Names, worstShown)
	odds := make([]float64, len(samples))
	spam := make([]bool, len(samples))
	for i, s := range samples {
		odds[i], spam[i] = results[i].LogOdds, s.Spam
	}
	r.Reliability = Reliability(results, spam)
	r.FittedCalibration = classifier.FitCalibration(odds, spam)
	if n := len(samples); n > 0 {
		perMsg := cfg.TokenizeTime.Seconds() / float64(n)
		if learnt > 0 {
			r.TrainMsgsPerSec = 1 / (perMsg + learnTime.Seconds()/float64(learnt))
		}
		r.ClassifyMsgsPerSec = 1 / (perMsg + classifyTime.Seconds()/float64(n))
	}
	return r, nil
}

// folds returns each sample's fold.
func folds(samples []Sample, k int) []int {
	fold := make([]int, len(samples))
	for i, s := range samples {
		fold[i] = Fold(s.Digest, k)
	}
	return fold
}

// plan returns each sample's fold and how many folds are tested, the
// first ones: all k of them, or, with testMods, fold 0 of a fixed split
// whose fold 1 is only learnt (see SplitFold).
func plan(samples []Sample, k int, testMods []int) (fold []int, rounds int) {
	if len(testMods) == 0 {
		return folds(samples, k), k
	}
	fold = make([]int, len(samples))
	for i, s := range samples {
		fold[i] = SplitFold(s.Name, testMods)
	}
	return fold, 1
}

// SplitMod is the number 0-9 that places a message in a fixed train/test
// split: SHA-256 of its file name (the last element of name), read as a
// big-endian number, mod 10. It depends on the name alone, so the same
// split can be drawn by any tool and does not move when the classifier's
// tokens do.
func SplitMod(name string) int {
	sum := sha256.Sum256([]byte(filepath.Base(name)))
	return int(new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(10)).Int64())
}

// SplitFold returns 0 (tested) when name's SplitMod is one of testMods, 1
// (learnt) otherwise.
func SplitFold(name string, testMods []int) int {
	if slices.Contains(testMods, SplitMod(name)) {
		return 0
	}
	return 1
}

// trainFold returns a classifier over a fresh in-memory store that learnt
// every sample outside fold f, the samples of fold f, and how many were
// learnt.
func trainFold(ctx context.Context, cfg classifier.Config, samples []Sample, fold []int, f int) (*classifier.Classifier, *classifier.MemStore, []int, int, error) {
	st := classifier.NewMemStore()
	c := classifier.New(cfg, st)
	learnt := 0
	batch := make([]classifier.Doc, 0, learnBatch)
	flush := func() error {
		_, err := c.Learn(ctx, batch...)
		learnt += len(batch)
		batch = batch[:0]
		return err
	}
	var test []int
	for i, s := range samples {
		if fold[i] == f {
			test = append(test, i)
			continue
		}
		batch = append(batch, classifier.Doc{Digest: s.Digest, Spam: s.Spam, Tokens: s.Tokens})
		if len(batch) == learnBatch {
			if err := flush(); err != nil {
				st.Close()
				return nil, nil, nil, learnt, fmt.Errorf("fold %d: %w", f+1, err)
			}
		}
	}
	if err := flush(); err != nil {
		st.Close()
		return nil, nil, nil, learnt, fmt.Errorf("fold %d: %w", f+1, err)
	}
	return c, st, test, learnt, nil
}

// forEach runs work on each index of idx on workers goroutines; the first
// error is returned, named by its sample.
func forEach(idx []int, workers int, work func(i int) error, samples []Sample) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := work(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("%s: %w", samples[i].Name, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range idx {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
