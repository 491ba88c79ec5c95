// Package attachments judges the files a message carries: their names
// (every MIME form: filename and name parameters, RFC 2231 extended and
// continued values, RFC 2047 encoded words), their content (detected by
// magic numbers, so a renamed program is still a program) and the files
// inside their archives (zip, tar, gzip, bzip2; 7z, RAR, xz and CAB are
// recognised but not opened), within limits on nesting, file count and
// expanded size so that a zip bomb costs little. Each class of finding has
// its action: reject, quarantine, score or off.
package attachments

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"mailguard/filters"
)

// Action is what a class of finding does to the message.
type Action string

// The actions.
const (
	ActionReject     Action = "reject"
	ActionQuarantine Action = "quarantine"
	ActionScore      Action = "score"
	ActionOff        Action = "off"
)

// Rule is a class's action and, for score, its points.
type Rule struct {
	Action Action
	Weight float64
}

// DefaultRules: programs and double extensions are refused, as most
// providers do; the rest is held for review or scored, as each has
// legitimate uses (encrypted archives of documents, large archives).
func DefaultRules() map[Class]Rule {
	return map[Class]Rule{
		Executable:      {Action: ActionReject},
		DoubleExtension: {Action: ActionReject},
		Mismatch:        {Action: ActionScore, Weight: 3},
		Encrypted:       {Action: ActionScore, Weight: 3},
		Unscannable:     {Action: ActionScore, Weight: 1},
		Limits:          {Action: ActionQuarantine},
	}
}

// TestName is the test a scored class appears under in X-Spam-Status
// (ATTACH_EXECUTABLE, ATTACH_DOUBLE_EXTENSION, ...).
func TestName(c Class) string { return "ATTACH_" + strings.ToUpper(string(c)) }

// Config configures the filter.
type Config struct {
	// Rules are the actions by class; a class missing here is off.
	Rules map[Class]Rule
	// Extensions are the executable extensions, lower case without the
	// dot (DefaultExtensions when nil).
	Extensions []string
	Limits     WalkLimits
	// MaxBytes bounds how much of the message is read (default 32 MiB).
	MaxBytes int64
	Log      *slog.Logger
}

// Filter is the attachment policy, run at the end of DATA.
type Filter struct{ cfg Config }

// New returns the filter.
func New(cfg Config) *Filter {
	if cfg.Extensions == nil {
		cfg.Extensions = DefaultExtensions()
	}
	for i, e := range cfg.Extensions {
		cfg.Extensions[i] = strings.ToLower(strings.TrimPrefix(e, "."))
	}
	cfg.Limits.defaults()
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 32 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Filter{cfg: cfg}
}

// Name implements filters.Filter.
func (f *Filter) Name() string { return "attachments" }

// CheckMessage implements filters.MessageChecker. The first finding whose
// class rejects refuses the message with 554 5.7.1 naming the file; else a
// finding whose class quarantines holds it; scored classes add their
// weight once each.
func (f *Filter) CheckMessage(ctx context.Context, t *filters.Transaction, m *filters.Message) filters.Verdict {
	log := t.Log
	if log == nil {
		log = f.cfg.Log
	}
	rc, err := m.Open()
	if err != nil {
		log.Warn("attachments cannot read the message; no opinion", "filter", "attachments", "err", err)
		return filters.Pass()
	}
	raw, err := io.ReadAll(io.LimitReader(rc, f.cfg.MaxBytes))
	rc.Close()
	if err != nil {
		log.Warn("attachments cannot read the message; no opinion", "filter", "attachments", "err", err)
		return filters.Pass()
	}
	rep := Inspect(raw, f.cfg.Limits, f.cfg.Extensions)
	return f.judge(t, log, rep)
}

func (f *Filter) judge(t *filters.Transaction, log *slog.Logger, rep *Report) filters.Verdict {
	var v filters.Verdict
	var hold *Finding
	scored := map[Class]bool{}
	for _, c := range Classes {
		r := f.cfg.Rules[c]
		for i := range rep.Findings {
			fd := &rep.Findings[i]
			if fd.Class != c {
				continue
			}
			switch r.Action {
			case ActionReject:
				reply := filters.ReplyAttachment.Format(Quote(fd.File), fd.Why).WithQueueID(t.QueueID)
				log.Info("reject: attachment", "filter", "attachments", "class", string(c), "file", Quote(fd.File), "why", fd.Why, "reply", reply.String())
				return filters.Refuse(reply, fmt.Sprintf("attachment %s %s", Quote(fd.File), fd.Why))
			case ActionQuarantine:
				if hold == nil {
					hold = fd
				}
			case ActionScore:
				log.Info("score: attachment", "filter", "attachments", "class", string(c), "file", Quote(fd.File), "why", fd.Why, "test", TestName(c), "points", r.Weight)
				if !scored[c] {
					scored[c] = true
					v.Scores = append(v.Scores, filters.Score{Test: TestName(c), Points: r.Weight, Detail: detail(fd.File)})
				}
			}
		}
	}
	if hold != nil {
		log.Info("quarantine: attachment", "filter", "attachments", "class", string(hold.Class), "file", Quote(hold.File), "why", hold.Why)
		h := filters.Hold(fmt.Sprintf("attachment %s %s", Quote(hold.File), hold.Why))
		h.Scores = v.Scores
		return h
	}
	return v
}
