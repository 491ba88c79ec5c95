package milter

import (
	"context"
	"errors"
	"io"
	"strings"

	milterlib "github.com/d--j/go-milter"

	"mailguard/filters"
	"mailguard/maillog"
	"mailguard/metrics"
)

// EndOfMessage judges the spooled message and carries the outcome out at
// the MTA: a refusal as a custom reply; a quarantine as a discard (after a
// durable write to the gateway's quarantine) or the MTA's own hold; an
// accepted message with its forged verdict fields deleted and the chain's
// fields inserted at the top.
func (s *session) EndOfMessage(m milterlib.Modifier) (resp *milterlib.Response, err error) {
	defer s.guard("END-OF-MESSAGE", &resp, &err)
	tx := s.tx
	if tx == nil {
		return s.reply("END-OF-MESSAGE", filters.ReplyInternal, "end of message without MAIL", false), nil
	}
	defer s.endTxn()
	s.stats.data++
	t := tx.t
	if id := m.Get(milterlib.MacroQueueId); id != "" {
		// Postfix may name its queue file only once the message came.
		t.Log = t.Log.With("mta_queue_id", id)
	}
	if !tx.eoh {
		s.Headers(m)
	}
	if tx.tooBig {
		return s.reply("END-OF-MESSAGE", filters.ReplyMessageTooBig, "message over max_message_bytes", true), nil
	}
	if !tx.spoolOK {
		return s.reply("END-OF-MESSAGE", s.internal("spool", errors.New("the message could not be spooled")), "", true), nil
	}
	msg, err := tx.spool.Message()
	if err != nil {
		return s.reply("END-OF-MESSAGE", s.internal("spool", err), "", true), nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.cfg.DataTimeout)
	defer cancel()
	out := tx.chain.Data(ctx, t, msg)
	action, reason := out.Verdict.Action, out.Verdict.Reason
	if tx.hold && action < filters.Quarantine {
		action, reason = filters.Quarantine, tx.holdReason
	}
	attrs := []any{"size", msg.Size, "nrcpt", len(t.Rcpts), "score", filters.FormatPoints(out.Score), "tests", filters.FormatTests(out.Tests)}
	switch action {
	case filters.Reject, filters.Tempfail:
		test := out.Verdict.Test
		if test == "" {
			test = maillog.DecidingTest(out)
		}
		return s.reply("END-OF-MESSAGE", out.Verdict.Reply, reason, true, append(attrs, "filter", out.Verdict.Filter, "test", test)...), nil
	case filters.Quarantine:
		if s.srv.cfg.QuarantineAction == QuarantineDiscard {
			return s.quarantine(ctx, out, msg, reason, attrs), nil
		}
		if err := s.modify(m, out); err != nil {
			return nil, err
		}
		if err := m.Quarantine("mailguard " + t.QueueID + ": " + reason); err != nil {
			return nil, err
		}
		s.stats.accepted++
		maillog.Accepted(t.Log, maillog.AcceptedMessage(metrics.Quarantined, "held at the MTA", out, msg.Size, len(t.Rcpts)), "from", "<"+t.MailFrom+">", "to", t.Rcpts, "reason", reason)
		return milterlib.RespAccept, nil
	}
	if err := s.modify(m, out); err != nil {
		// The milter connection is broken: the MTA applies its default
		// action (tempfail, as docs/milter.md configures it).
		return nil, err
	}
	s.stats.accepted++
	outcome := metrics.Relayed
	if out.Tag {
		outcome = metrics.Tagged
	}
	maillog.Accepted(t.Log, maillog.AcceptedMessage(outcome, "accepted", out, msg.Size, len(t.Rcpts)), "from", "<"+t.MailFrom+">", "to", t.Rcpts)
	return milterlib.RespAccept, nil
}

// quarantine stores the message as it would have been delivered, then
// tells the MTA to discard it; the sender hears the MTA's 250 only after
// the write.
func (s *session) quarantine(ctx context.Context, out filters.Outcome, msg *filters.Message, reason string, attrs []any) *milterlib.Response {
	t := s.tx.t
	if s.srv.cfg.Holder == nil {
		return s.reply("END-OF-MESSAGE", s.internal("quarantine", errors.New("no quarantine configured")), reason, true, attrs...)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		src, err := msg.Open()
		if err == nil {
			err = filters.WriteMessage(pw, "", out.Headers, t.Stripped, src)
			src.Close()
		}
		pw.CloseWithError(err)
	}()
	id, err := s.srv.cfg.Holder.Hold(ctx, t, out, pr)
	pr.Close()
	<-done
	if err != nil {
		return s.reply("END-OF-MESSAGE", s.internal("quarantine", err), reason, true, attrs...)
	}
	s.stats.accepted++
	maillog.Accepted(t.Log, maillog.AcceptedMessage(metrics.Quarantined, "", out, msg.Size, len(t.Rcpts)), "from", "<"+t.MailFrom+">", "to", t.Rcpts, "quarantine_id", id, "reason", reason, "mta_action", "discard")
	return milterlib.RespDiscard
}

// internal logs err and returns the reply that stands for it.
func (s *session) internal(what string, err error) filters.Reply {
	s.log().Error(what, "err", err)
	return filters.ReplyInternal
}

// modify asks the MTA for the header changes of the outcome: first the
// deletions, each at its index among the fields of its name (counted as
// they arrived, so from the last one back, whatever the MTA does with the
// indexes of deleted fields), then the chain's fields at the top, below
// the MTA's own Received: field, where the proxy puts them too.
func (s *session) modify(m milterlib.Modifier, out filters.Outcome) error {
	t := s.tx.t
	if m.Actions()&milterlib.OptChangeHeader != 0 {
		type del struct {
			index int
			name  string
		}
		var dels []del
		seen := map[string]int{}
		for _, f := range s.tx.fields {
			key := strings.ToLower(f.name)
			seen[key]++
			if filters.IsVerdictField(f.name) || t.Stripped(f.name, filters.Unfold([]byte(f.value))) {
				dels = append(dels, del{seen[key], f.name})
			}
		}
		for i := len(dels) - 1; i >= 0; i-- {
			if err := m.ChangeHeader(dels[i].index, dels[i].name, ""); err != nil {
				return err
			}
			t.Log.Info("header removed", "field", dels[i].name, "index", dels[i].index)
		}
	} else if len(s.tx.fields) > 0 {
		t.Log.Warn("the MTA does not allow header changes; forged verdict fields stay")
	}
	if m.Actions()&milterlib.OptAddHeader == 0 {
		t.Log.Warn("the MTA does not allow added headers; the verdict is not written into the message")
		return nil
	}
	// Position 1 is below the MTA's own Received: field, which heads the
	// message: Postfix counts it though it does not show it to milters
	// (found with Postfix 3.7), Sendmail shows it as the first field.
	at := 1
	for i, f := range out.Headers {
		value := s.fieldValue(f)
		var err error
		if m.Version() >= 6 {
			err = m.InsertHeader(at+i, f.Name, value)
		} else {
			// Protocol 2 has no insert: the fields go at the bottom.
			err = m.AddHeader(f.Name, value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fieldValue renders an added field's value folded as the proxy folds it,
// with the leading space when the MTA expects it.
func (s *session) fieldValue(f filters.Field) string {
	v := strings.TrimSuffix(strings.TrimPrefix(filters.FormatField(f), f.Name+":"), "\r\n")
	if !s.leadingSpace {
		v = strings.TrimPrefix(v, " ")
	}
	return v
}
