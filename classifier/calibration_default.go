package classifier

// DefaultCalibration is FitCalibration on the held-out log-odds of
// mailguard eval (10 folds) on the SpamAssassin public corpus (1,896 spam,
// 4,150 ham), refitted whenever the scoring changes; see
// docs/classifier.md. The tie band (|log-odds| < 0.001) holds the steps
// between 0.05 and 0.99: outside it, Fisher's combination has not been
// wrong on that corpus.
func DefaultCalibration() Calibration {
	return Calibration{
		{-2655.66, 0.0001241},
		{-1.29411, 0.0555556},
		{-0.194318, 0.227941},
		{-0.000748329, 0.849206},
		{8.23412e-05, 0.965116},
		{0.000526414, 0.981707},
		{0.00095993, 0.999707},
	}
}
