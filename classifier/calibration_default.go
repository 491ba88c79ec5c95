package classifier

// DefaultCalibration is FitCalibration on the held-out log-odds of
// mailguard eval (10 folds) on the SpamAssassin public corpus (1,896 spam,
// 4,150 ham), refitted whenever the scoring changes; see
// docs/classifier.md. The tie band (|log-odds| < 0.001) holds the steps
// between 0.05 and 0.99: outside it, Fisher's combination has not been
// wrong on that corpus.
func DefaultCalibration() Calibration {
	return Calibration{
		{-3561.71, 0.000124069},
		{-1.29411, 0.0480769},
		{-0.310487, 0.122642},
		{-0.000861116, 0.602041},
		{-0.000327272, 0.865854},
		{6.28052e-05, 0.973118},
		{0.000684046, 0.999712},
	}
}
