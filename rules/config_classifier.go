package rules

import (
	"math"

	"mailguard/classifier"
)

// ClassifierConfig is the "classifier" section: the Bayesian classifier's
// scoring, its BAYES_* weights and autolearning.
type ClassifierConfig struct {
	// Enabled puts the classifier in the chain (default true).
	Enabled bool `yaml:"enabled"`
	// S, X, MinDev, MaxClues, HamCutoff, SpamCutoff and MinLearned are
	// classifier.Config's settings.
	S          float64 `yaml:"s"`
	X          float64 `yaml:"x"`
	MinDev     float64 `yaml:"min_dev"`
	MaxClues   int     `yaml:"max_clues"`
	HamCutoff  float64 `yaml:"ham_cutoff"`
	SpamCutoff float64 `yaml:"spam_cutoff"`
	MinLearned int     `yaml:"min_learned"`
	// MaxTokens caps the token database; the rarest old tokens go first.
	MaxTokens int `yaml:"max_tokens"`
	// MaxBytes bounds how much of each message is read.
	MaxBytes int64 `yaml:"max_bytes"`
	// Calibration maps the classifier's log-odds to the probability the
	// BAYES_* bands are read off: steps of {odds, prob}, as mailguard eval
	// prints them for a corpus.
	Calibration classifier.Calibration `yaml:"calibration"`
	// Weights are the points of the BAYES_* tests.
	Weights   map[string]float64 `yaml:"weights"`
	Autolearn AutolearnConfig    `yaml:"autolearn"`
}

// AutolearnConfig is classifier.autolearn.
type AutolearnConfig struct {
	Enabled     bool    `yaml:"enabled"`
	SpamScore   float64 `yaml:"spam_score"`
	HamMaxScore float64 `yaml:"ham_max_score"`
}

// DefaultClassifierMaxTokens is the token cap by default.
const DefaultClassifierMaxTokens = 2_000_000

func init() {
	registerDefaults(func(c *Config) {
		d := classifier.DefaultConfig()
		al := classifier.DefaultAutolearn()
		c.Classifier = ClassifierConfig{
			Enabled: true,
			S:       d.S, X: d.X, MinDev: d.MinDev, MaxClues: d.MaxClues,
			HamCutoff: d.HamCutoff, SpamCutoff: d.SpamCutoff, MinLearned: d.MinLearned,
			MaxTokens:   DefaultClassifierMaxTokens,
			MaxBytes:    classifier.DefaultMaxBytes,
			Calibration: d.Calibration,
			Weights:     classifier.DefaultWeights(),
			Autolearn:   AutolearnConfig{Enabled: al.Enabled, SpamScore: al.SpamScore, HamMaxScore: al.HamMaxScore},
		}
	})
	registerValidator(validateClassifier)
}

// Scoring returns the classifier's settings from the section.
func (c ClassifierConfig) Scoring() classifier.Config {
	return classifier.Config{
		S: c.S, X: c.X, MinDev: c.MinDev, MaxClues: c.MaxClues,
		HamCutoff: c.HamCutoff, SpamCutoff: c.SpamCutoff, MinLearned: c.MinLearned,
		Calibration: c.Calibration,
	}
}

func validateClassifier(c *Config, v *validator) {
	cc := c.Classifier
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !(cc.S > 0) || !finite(cc.S) {
		v.Errorf("classifier.s", "must be a number over 0, got %v", cc.S)
	}
	if !(cc.X > 0 && cc.X < 1) {
		v.Errorf("classifier.x", "must be between 0 and 1 (exclusive), got %v", cc.X)
	}
	if !(cc.MinDev >= 0 && cc.MinDev < 0.5) {
		v.Errorf("classifier.min_dev", "must be at least 0 and under 0.5, got %v", cc.MinDev)
	}
	if cc.MaxClues < 1 {
		v.Errorf("classifier.max_clues", "must be at least 1, got %d", cc.MaxClues)
	}
	if !(cc.HamCutoff >= 0 && cc.HamCutoff <= 1) {
		v.Errorf("classifier.ham_cutoff", "must be between 0 and 1, got %v", cc.HamCutoff)
	}
	if !(cc.SpamCutoff >= 0 && cc.SpamCutoff <= 1) {
		v.Errorf("classifier.spam_cutoff", "must be between 0 and 1, got %v", cc.SpamCutoff)
	} else if cc.HamCutoff > cc.SpamCutoff {
		v.Errorf("classifier.spam_cutoff", "must not be under ham_cutoff (%v), got %v", cc.HamCutoff, cc.SpamCutoff)
	}
	if cc.MinLearned < 0 {
		v.Errorf("classifier.min_learned", "must not be negative, got %d", cc.MinLearned)
	}
	if cc.MaxTokens < 1000 {
		v.Errorf("classifier.max_tokens", "must be at least 1000, got %d", cc.MaxTokens)
	}
	if cc.MaxBytes < 1024 {
		v.Errorf("classifier.max_bytes", "must be at least 1024, got %d", cc.MaxBytes)
	}
	if len(cc.Calibration) == 0 {
		v.Errorf("classifier.calibration", "must have at least one step {odds, prob}")
	} else if err := cc.Calibration.Validate(); err != nil {
		v.Errorf("classifier.calibration", "%v", err)
	}
	v.testWeights("classifier.weights", "a classifier test", cc.Weights, classifier.DefaultWeights())
	if !finite(cc.Autolearn.SpamScore) || cc.Autolearn.SpamScore <= 0 {
		v.Errorf("classifier.autolearn.spam_score", "must be a score over 0, got %v", cc.Autolearn.SpamScore)
	}
	if !finite(cc.Autolearn.HamMaxScore) {
		v.Errorf("classifier.autolearn.ham_max_score", "must be a number, got %v", cc.Autolearn.HamMaxScore)
	} else if cc.Autolearn.HamMaxScore >= cc.Autolearn.SpamScore {
		v.Errorf("classifier.autolearn.ham_max_score", "must be under spam_score (%v), got %v", cc.Autolearn.SpamScore, cc.Autolearn.HamMaxScore)
	}
}
