package classifier

import "fmt"

// Config tunes the scoring. The zero value is not useful: start from
// DefaultConfig.
type Config struct {
	// S is the strength of the prior X in Robinson's f(w): how many
	// messages' worth of evidence a token needs before its own ratio
	// outweighs the prior.
	S float64
	// X is the probability assumed for a token never seen.
	X float64
	// MinDev ignores tokens with |f(w) - 0.5| below it: they say little and
	// only dilute the combined score.
	MinDev float64
	// MaxClues bounds how many of the most extreme tokens are combined.
	MaxClues int
	// HamCutoff and SpamCutoff split the probability into ham (below
	// HamCutoff), spam (at or over SpamCutoff) and unsure in between.
	HamCutoff, SpamCutoff float64
	// MinLearned is how many ham and how many spam messages must be learnt
	// before the classifier gives an opinion; until then it is inactive.
	MinLearned int
	// Calibration turns the log-odds into the probability the BAYES_*
	// bands are read off; nil means DefaultCalibration.
	Calibration Calibration
}

// DefaultConfig returns the settings chosen on the SpamAssassin corpus.
// Few, extreme clues (bogofilter's habit: a weak prior, a high MinDev)
// ranked best on three different train/test splits; SpamBayes' many mild
// clues (s 0.45, MinDev 0.1, 150 clues) did as well on one split and two to
// four times worse on the others, being sure of itself on the hard cases.
// With few clues the probability is more a side than a degree: no ham of
// the three test sets reached 0.55 and at most one spam in each fell under
// 0.40, while a fifth of the spam lies just over 0.5, where both kinds of
// evidence are strong (the tie band, see tieBand); those are unsure.
func DefaultConfig() Config {
	return Config{
		S:           0.01,
		X:           0.5,
		MinDev:      0.44,
		MaxClues:    1000,
		HamCutoff:   0.40,
		SpamCutoff:  0.55,
		MinLearned:  200,
		Calibration: DefaultCalibration(),
	}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case !(c.S > 0):
		return fmt.Errorf("s must be over 0, got %v", c.S)
	case !(c.X > 0 && c.X < 1):
		return fmt.Errorf("x must be between 0 and 1 (exclusive), got %v", c.X)
	case !(c.MinDev >= 0 && c.MinDev < 0.5):
		return fmt.Errorf("min_dev must be in [0, 0.5), got %v", c.MinDev)
	case c.MaxClues < 1:
		return fmt.Errorf("max_clues must be at least 1, got %d", c.MaxClues)
	case !(c.HamCutoff >= 0 && c.HamCutoff <= 1):
		return fmt.Errorf("ham_cutoff must be in [0, 1], got %v", c.HamCutoff)
	case !(c.SpamCutoff >= 0 && c.SpamCutoff <= 1):
		return fmt.Errorf("spam_cutoff must be in [0, 1], got %v", c.SpamCutoff)
	case c.HamCutoff > c.SpamCutoff:
		return fmt.Errorf("ham_cutoff %v is over spam_cutoff %v", c.HamCutoff, c.SpamCutoff)
	case c.MinLearned < 0:
		return fmt.Errorf("min_learned must not be negative, got %d", c.MinLearned)
	}
	if err := c.Calibration.Validate(); err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	return nil
}
