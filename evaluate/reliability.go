package evaluate

import "mailguard/classifier"

// BandRow is one line of a reliability table: the messages whose
// calibrated probability fell in a BAYES_* band, the probability the
// calibration promised them on average, and the share of them that was
// spam. A calibration holds when the two agree.
type BandRow struct {
	Band         string  `json:"band"`
	Spam         int     `json:"spam"`
	Ham          int     `json:"ham"`
	MeanProb     float64 `json:"mean_calibrated_prob"`
	SpamSharePct float64 `json:"spam_share_pct"`
}

// Reliability returns the reliability table of results (held-out, with
// their true classes in spam), one row a band that holds messages, most
// spammy band first. Inactive results are left out.
func Reliability(results []classifier.Result, spam []bool) []BandRow {
	idx := map[string]int{}
	var rows []BandRow
	for _, b := range classifier.Bands() {
		idx[b] = len(rows)
		rows = append(rows, BandRow{Band: b})
	}
	for i, r := range results {
		if !r.Active {
			continue
		}
		row := &rows[idx[classifier.TestName(r.Calibrated)]]
		if spam[i] {
			row.Spam++
		} else {
			row.Ham++
		}
		row.MeanProb += r.Calibrated
	}
	out := rows[:0]
	for _, r := range rows {
		n := r.Spam + r.Ham
		if n == 0 {
			continue
		}
		r.MeanProb /= float64(n)
		r.SpamSharePct = pct(r.Spam, n)
		out = append(out, r)
	}
	return out
}
