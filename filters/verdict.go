package filters

import "fmt"

// Action is what a check wants done. Within a phase the strongest action
// wins; the order of the constants is their strength.
type Action uint8

const (
	Continue Action = iota
	Quarantine
	Tempfail
	Reject
)

func (a Action) String() string {
	switch a {
	case Continue:
		return "continue"
	case Quarantine:
		return "quarantine"
	case Tempfail:
		return "tempfail"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Score is points added to a transaction under a test name, shown in
// X-Spam-Status as NAME=POINTS.
type Score struct {
	Test   string  `json:"test"`
	Points float64 `json:"points"`
	// Detail says what the test found when that helps the reader (the
	// listed domain of a URIBL test); X-Spam-Status shows it after the
	// tests as details=NAME[DETAIL].
	Detail string `json:"detail,omitempty"`
}

// Verdict is a check's answer.
type Verdict struct {
	Action Action
	// Reply is sent to the client for Tempfail and Reject.
	Reply Reply
	// Scores are added to the transaction whatever the action.
	Scores []Score
	// Reason is for the log only.
	Reason string
}

// Pass is "no objection".
func Pass() Verdict { return Verdict{} }

// Scored adds points under a test name.
func Scored(test string, points float64, reason string) Verdict {
	return Verdict{Scores: []Score{{Test: test, Points: points}}, Reason: reason}
}

// Refuse rejects (5xx) or tempfails (4xx) with r, according to its code.
func Refuse(r Reply, reason string) Verdict {
	a := Reject
	if r.Temporary() {
		a = Tempfail
	}
	return Verdict{Action: a, Reply: r, Reason: reason}
}

// Hold asks for the message to be quarantined.
func Hold(reason string) Verdict { return Verdict{Action: Quarantine, Reason: reason} }

// IsPass reports whether the verdict neither acts nor scores.
func (v Verdict) IsPass() bool { return v.Action == Continue && len(v.Scores) == 0 }

// Points is the sum of the verdict's scores.
func (v Verdict) Points() float64 {
	var s float64
	for _, sc := range v.Scores {
		s += sc.Points
	}
	return s
}
