package evaluate

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"mailguard/classifier"
	"mailguard/filters"
)

// ChainConfig sets up a cross-validation of whole verdicts.
type ChainConfig struct {
	// Folds is k, as in Config; the folds are the same as CrossValidate's.
	Folds int
	// TestMods, when not empty, replaces the folds by one fixed train/test
	// split, as in Config; only its test part is judged and counted.
	TestMods []int
	// Classifier is the scoring configuration.
	Classifier classifier.Config
	// Workers judge in parallel; 0 means one per CPU.
	Workers int
	// Judge runs one message (Sample.Raw) through the chain with cl as the
	// classifier and returns the chain's outcome.
	Judge func(ctx context.Context, cl *classifier.Classifier, s Sample) (filters.Outcome, error)
}

// Actions counts what the chain did with the messages of one class.
// Relayed and Tagged were relayed (Tagged with X-Spam-Flag: YES),
// Quarantined and Rejected on their score; Refused were refused as
// malformed (550 5.6.0), by the kind's configuration key; ByCheck were
// refused or held by a check's own policy (the attachment policy), by the
// check and action. Percentages are of Messages.
type Actions struct {
	Messages    int            `json:"messages"`
	Relayed     int            `json:"relayed"`
	Tagged      int            `json:"tagged"`
	Quarantined int            `json:"quarantined"`
	Rejected    int            `json:"rejected"`
	Tempfailed  int            `json:"tempfailed,omitempty"`
	Refused     map[string]int `json:"refused_malformed"`
	ByCheck     map[string]int `json:"by_check,omitempty"`
	// TaggedOrWorsePct: tagged, quarantined or rejected on score.
	TaggedOrWorsePct float64 `json:"tagged_or_worse_pct"`
	// HeldOrRejectedPct: quarantined or rejected on score.
	HeldOrRejectedPct float64 `json:"quarantined_or_rejected_pct"`
	// RefusedPct: refused as malformed.
	RefusedPct float64 `json:"refused_malformed_pct"`
	// JudgedTaggedOrWorsePct: tagged, quarantined or rejected on score, of
	// the messages neither refused as malformed nor refused or held by a
	// check's own policy (those the score decided).
	JudgedTaggedOrWorsePct float64 `json:"judged_tagged_or_worse_pct"`
}

// Judged is one message's outcome, for the lists of a ChainReport.
type Judged struct {
	Name   string  `json:"name"`
	Action string  `json:"action"`
	Score  float64 `json:"score"`
	Tests  string  `json:"tests"`
}

// ChainReport is what a cross-validation of whole verdicts found.
type ChainReport struct {
	// Folds is k; 1 for a fixed split, whose test part TestMods names.
	Folds      int     `json:"folds"`
	TestMods   []int   `json:"test_mods,omitempty"`
	Tag        float64 `json:"tag"`
	Quarantine float64 `json:"quarantine"`
	Reject     float64 `json:"reject"`
	Spam       Actions `json:"spam"`
	Ham        Actions `json:"ham"`
	// Tests counts how often each test fired, by class.
	Tests map[string]TestCount `json:"tests"`
	// HamFlagged are the ham tagged, quarantined or rejected on score;
	// SpamRelayed the spam relayed untagged (at most chainListed each,
	// highest and lowest score first).
	HamFlagged  []Judged `json:"ham_flagged"`
	SpamRelayed []Judged `json:"spam_relayed"`
	// Inactive counts messages judged by a classifier that had not yet
	// learnt its minimum of each class (classifier.TestInactive fired: no
	// BAYES_* points).
	Inactive int `json:"inactive"`
}

// TestCount is how many spam and ham messages a test fired on.
type TestCount struct {
	Spam int `json:"spam"`
	Ham  int `json:"ham"`
}

const chainListed = 20

// CrossValidateChain runs k-fold cross-validation of whole verdicts: each
// message is judged by cfg.Judge with a classifier trained on the other
// folds, and counted by what the chain would do with it.
func CrossValidateChain(ctx context.Context, cfg ChainConfig, policy filters.Policy, samples []Sample) (*ChainReport, error) {
	if cfg.Folds < 2 {
		return nil, fmt.Errorf("cross-validation needs at least 2 folds, got %d", cfg.Folds)
	}
	if cfg.Judge == nil {
		return nil, fmt.Errorf("cross-validation of verdicts needs a judge")
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	fold, rounds := plan(samples, cfg.Folds, cfg.TestMods)
	outs := make([]filters.Outcome, len(samples))
	for f := range rounds {
		c, st, test, _, err := trainFold(ctx, cfg.Classifier, samples, fold, f)
		if err != nil {
			return nil, err
		}
		err = forEach(test, workers, func(i int) error {
			out, err := cfg.Judge(ctx, c, samples[i])
			outs[i] = out
			return err
		}, samples)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
	}
	r := &ChainReport{Folds: rounds, TestMods: cfg.TestMods, Tag: policy.Tag, Quarantine: policy.Quarantine, Reject: policy.Reject,
		Spam: Actions{Refused: map[string]int{}, ByCheck: map[string]int{}}, Ham: Actions{Refused: map[string]int{}, ByCheck: map[string]int{}}, Tests: map[string]TestCount{}}
	for i, s := range samples {
		if fold[i] >= rounds {
			continue // learnt only, in a fixed split
		}
		out := outs[i]
		a := &r.Ham
		if s.Spam {
			a = &r.Spam
		}
		a.Messages++
		action := actionOf(out, policy)
		switch action {
		case "relayed":
			a.Relayed++
		case "tagged":
			a.Tagged++
		case "quarantined":
			a.Quarantined++
		case "rejected":
			a.Rejected++
		case "tempfailed":
			a.Tempfailed++
		default:
			if strings.Contains(action, " ") {
				a.ByCheck[action]++
			} else {
				a.Refused[action]++
				action = "refused: " + action
			}
		}
		seen := map[string]bool{}
		for _, t := range out.Tests {
			if seen[t.Test] {
				continue
			}
			seen[t.Test] = true
			if t.Test == classifier.TestInactive {
				r.Inactive++
			}
			tc := r.Tests[t.Test]
			if s.Spam {
				tc.Spam++
			} else {
				tc.Ham++
			}
			r.Tests[t.Test] = tc
		}
		j := Judged{Name: s.Name, Action: action, Score: out.Score, Tests: filters.FormatTests(out.Tests)}
		switch {
		case !s.Spam && (action == "tagged" || action == "quarantined" || action == "rejected"):
			r.HamFlagged = append(r.HamFlagged, j)
		case s.Spam && action == "relayed":
			r.SpamRelayed = append(r.SpamRelayed, j)
		}
	}
	for _, a := range []*Actions{&r.Spam, &r.Ham} {
		malformed, byCheck := 0, 0
		for _, n := range a.Refused {
			malformed += n
		}
		for _, n := range a.ByCheck {
			byCheck += n
		}
		a.TaggedOrWorsePct = pct(a.Tagged+a.Quarantined+a.Rejected, a.Messages)
		a.HeldOrRejectedPct = pct(a.Quarantined+a.Rejected, a.Messages)
		a.RefusedPct = pct(malformed, a.Messages)
		a.JudgedTaggedOrWorsePct = pct(a.Tagged+a.Quarantined+a.Rejected, a.Messages-malformed-byCheck)
	}
	sort.SliceStable(r.HamFlagged, func(i, j int) bool { return r.HamFlagged[i].Score > r.HamFlagged[j].Score })
	sort.SliceStable(r.SpamRelayed, func(i, j int) bool { return r.SpamRelayed[i].Score < r.SpamRelayed[j].Score })
	if len(r.HamFlagged) > chainListed {
		r.HamFlagged = r.HamFlagged[:chainListed]
	}
	if len(r.SpamRelayed) > chainListed {
		r.SpamRelayed = r.SpamRelayed[:chainListed]
	}
	return r, nil
}

// actionOf names what the gateway does with a message: relayed, tagged,
// quarantined or rejected (on score), tempfailed, the malformed kind it is
// refused for, or, when a check's own policy refused or held it, the
// check's word and the action ("attachment rejected").
func actionOf(out filters.Outcome, policy filters.Policy) string {
	if k := filters.MalformedKind(out.Verdict); k != "" {
		return k
	}
	onScore := policy.Decide(out.Score).Action >= out.Verdict.Action
	check, _, _ := strings.Cut(out.Verdict.Reason, " ")
	switch out.Verdict.Action {
	case filters.Reject:
		if onScore {
			return "rejected"
		}
		return check + " rejected"
	case filters.Quarantine:
		if onScore {
			return "quarantined"
		}
		return check + " quarantined"
	case filters.Tempfail:
		return "tempfailed"
	}
	if out.Tag {
		return "tagged"
	}
	return "relayed"
}
