package evaluate

import (
	"sort"
)

// Contributor is one message's part in the ranking error: the ham-spam
// pairs it is misordered in (a ham scored over a spam; a tie counts half),
// and that as a share of all misordered pairs. (1-ROCA)% is the misordered
// pairs over all pairs, so a message with a large share is one that alone
// makes the figure.
type Contributor struct {
	Name       string  `json:"name"`
	Spam       bool    `json:"spam"`
	Score      float64 `json:"score"`
	Misordered float64 `json:"misordered_pairs"`
	SharePct   float64 `json:"share_pct"`
}

// WorstContributors returns the n messages of each class in the most
// misordered pairs, most first. names[i] names scores[i]. The shares of one
// class add up to 100%, each pair being counted once on each side.
func WorstContributors(scores []Score, names []string, n int) (ham, spam []Contributor) {
	var hs, ss []float64
	for _, s := range scores {
		if s.Spam {
			ss = append(ss, s.Score)
		} else {
			hs = append(hs, s.Score)
		}
	}
	sort.Float64s(hs)
	sort.Float64s(ss)
	// below(xs, v): how many of xs are under v, and how many equal it.
	below := func(xs []float64, v float64) (lt, eq int) {
		lt = sort.SearchFloat64s(xs, v)
		hi := sort.Search(len(xs), func(k int) bool { return xs[k] > v })
		return lt, hi - lt
	}
	var total float64
	all := make([]Contributor, len(scores))
	for i, s := range scores {
		c := Contributor{Spam: s.Spam, Score: s.Score}
		if i < len(names) {
			c.Name = names[i]
		}
		if s.Spam {
			lt, eq := below(hs, s.Score)
			c.Misordered = float64(len(hs)-lt-eq) + float64(eq)/2
		} else {
			lt, eq := below(ss, s.Score)
			c.Misordered = float64(lt) + float64(eq)/2
			total += c.Misordered
		}
		all[i] = c
	}
	for i := range all {
		if total > 0 {
			all[i].SharePct = 100 * all[i].Misordered / total
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Misordered > all[b].Misordered })
	for _, c := range all {
		if c.Misordered == 0 {
			break
		}
		if c.Spam && len(spam) < n {
			spam = append(spam, c)
		} else if !c.Spam && len(ham) < n {
			ham = append(ham, c)
		}
	}
	return ham, spam
}
