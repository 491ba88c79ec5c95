package quarantine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A digest is a daily mail to each recipient listing what was held for
// them, with a release link per message. A link is signed (HMAC-SHA256
// over id, recipient and expiry, with a key kept in data_dir) and expires;
// it names one recipient and is offered only for a message held for that
// recipient alone, so following it cannot deliver mail to anyone else.

// ErrBadLink is returned for a release link that is forged, altered or
// expired.
var ErrBadLink = errors.New("the link is not valid (altered, or expired)")

// LinkKey signs and checks release links.
type LinkKey []byte

// LoadLinkKey reads the key at path, creating a random one (mode 0600) the
// first time.
func LoadLinkKey(path string) (LinkKey, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return LinkKey(b), nil
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("link key: %w", err)
	}
	k := make([]byte, 32)
	rand.Read(k)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if os.IsExist(err) { // made meanwhile by another process
			return LoadLinkKey(path)
		}
		return nil, fmt.Errorf("link key: %w", err)
	}
	_, err = f.Write(k)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("link key: %w", err)
	}
	return LinkKey(k), nil
}

func (k LinkKey) mac(id, rcpt string, exp int64) []byte {
	m := hmac.New(sha256.New, k)
	fmt.Fprintf(m, "release\x00%s\x00%s\x00%d", CanonicalID(id), strings.ToLower(rcpt), exp)
	return m.Sum(nil)
}

// Sign returns the query of a release link for id and rcpt valid until exp:
// r (the recipient), e (expiry, Unix seconds) and s (the signature).
func (k LinkKey) Sign(id, rcpt string, exp time.Time) url.Values {
	e := exp.Unix()
	return url.Values{"r": {strings.ToLower(rcpt)}, "e": {strconv.FormatInt(e, 10)},
		"s": {base64.RawURLEncoding.EncodeToString(k.mac(id, rcpt, e))}}
}

// Verify checks a release link's query for id at now and returns its
// recipient, or ErrBadLink.
func (k LinkKey) Verify(id string, q url.Values, now time.Time) (string, error) {
	rcpt := q.Get("r")
	e, err := strconv.ParseInt(q.Get("e"), 10, 64)
	sig, serr := base64.RawURLEncoding.DecodeString(q.Get("s"))
	if rcpt == "" || err != nil || serr != nil || !hmac.Equal(sig, k.mac(id, rcpt, e)) || now.Unix() > e {
		return "", ErrBadLink
	}
	return rcpt, nil
}

// Digest says how digests are made.
type Digest struct {
	// URL is the review UI as recipients reach it ("https://host:port").
	URL string
	// From is the digest's From; the envelope sender is null (<>), as
	// for any automatic mail, so it cannot cause a bounce loop.
	From     string
	Hostname string
	// LinkTTL is how long a link stays valid.
	LinkTTL time.Duration
	Key     LinkKey
}

// SoleRecipient reports whether e was held for rcpt alone, the case a
// link may release.
func SoleRecipient(e Entry, rcpt string) bool {
	return len(e.Rcpts) == 1 && strings.EqualFold(e.Rcpts[0], rcpt)
}

// Send mails each recipient of the entries held since since (and not
// released) a digest of theirs, through the releaser's backend. It returns
// how many digests the backend took.
func (d Digest) Send(ctx context.Context, r *Releaser, since time.Time) (int, error) {
	l, err := r.Store.List(ctx)
	if err != nil {
		return 0, err
	}
	byRcpt := map[string][]Entry{}
	for _, e := range l {
		if e.Release != nil || e.Time.Before(since) {
			continue
		}
		for _, rc := range e.Rcpts {
			byRcpt[strings.ToLower(rc)] = append(byRcpt[strings.ToLower(rc)], e)
		}
	}
	rcpts := make([]string, 0, len(byRcpt))
	for rc := range byRcpt {
		rcpts = append(rcpts, rc)
	}
	sort.Strings(rcpts)
	n := 0
	for _, rc := range rcpts {
		msg := d.compose(rc, byRcpt[rc], r.now())
		del := r.Deliver.Deliver(ctx, "", []string{rc}, int64(len(msg)), bytes.NewReader(msg))
		if len(del.Delivered) == 1 {
			n++
			r.log().Info("quarantine digest sent", "rcpt", rc, "messages", len(byRcpt[rc]))
		} else {
			r.log().Warn("quarantine digest not sent", "rcpt", rc, "refused", strings.Join(del.Refused, "; "), "err", fmt.Sprint(del.Err))
		}
	}
	return n, nil
}

// compose writes one recipient's digest: a UTF-8 text mail.
func (d Digest) compose(rcpt string, entries []Entry, now time.Time) []byte {
	var b bytes.Buffer
	subj := fmt.Sprintf("%d message(s) held for you", len(entries))
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", d.From, rcpt, mime.QEncoding.Encode("utf-8", subj), now.UTC().Format(time.RFC1123Z))
	idb := make([]byte, 9)
	rand.Read(idb)
	host := d.Hostname
	if host == "" {
		host = "localhost"
	}
	fmt.Fprintf(&b, "Message-ID: <digest-%s@%s>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n", base64.RawURLEncoding.EncodeToString(idb), host)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "These messages to %s were held as probable spam.\r\n", rcpt)
	fmt.Fprintf(&b, "If one is mail you want, open its link to release it to you (links expire %s).\r\n\r\n", now.Add(d.LinkTTL).UTC().Format("2006-01-02 15:04 UTC"))
	base := strings.TrimRight(d.URL, "/")
	for _, e := range entries {
		subject := e.Subject
		if subject == "" {
			subject = "(no subject)"
		}
		from := e.From
		if from == "" {
			from = "<" + e.MailFrom + ">"
		}
		fmt.Fprintf(&b, "%s  %s\r\n  From: %s\r\n  Score %.1f, queue id %s\r\n", e.Time.UTC().Format("2006-01-02 15:04"), oneLine(subject), oneLine(from), e.Score, e.ID)
		if SoleRecipient(e, rcpt) {
			fmt.Fprintf(&b, "  Release: %s/r/%s?%s\r\n\r\n", base, e.ID, d.Key.Sign(e.ID, rcpt, now.Add(d.LinkTTL)).Encode())
		} else {
			b.WriteString("  Held for other recipients too: ask your mail administrator, quoting the queue id.\r\n\r\n")
		}
	}
	return b.Bytes()
}

// oneLine keeps text from a message out of the digest's line structure.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
