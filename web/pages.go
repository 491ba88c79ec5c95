package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailguard/filters"
	"mailguard/quarantine"
)

// visible returns the entries the session's user may review.
func (s *Server) visible(r *http.Request) ([]quarantine.Entry, error) {
	all, err := s.cfg.Store.List(r.Context())
	if err != nil {
		return nil, err
	}
	u := current(r).user
	out := all[:0]
	for _, e := range all {
		if u.Sees(e.Rcpts) {
			out = append(out, e)
		}
	}
	return out, nil
}

type row struct {
	quarantine.Entry
	Rcpt      string
	Subject   string
	Releasing bool
}

type listData struct {
	page
	Rows        []row
	Q           string
	Sort, Dir   string
	Total       int
	Page, Pages int
	First, Last int
	Prev, Next  string
	SortDate    string
	SortScore   string
	Learning    bool
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	entries, err := s.visible(r)
	if err != nil {
		s.cfg.Log.Error("web: listing the quarantine", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "The quarantine could not be read: "+err.Error())
		return
	}
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("q"))
	sortBy, dir := q.Get("sort"), q.Get("dir")
	if sortBy != "score" {
		sortBy = "date"
	}
	if dir != "asc" {
		dir = "desc"
	}
	if search != "" {
		needle := strings.ToLower(search)
		kept := entries[:0]
		for _, e := range entries {
			hay := strings.ToLower(strings.Join(append([]string{e.ID, e.MailFrom, quarantine.DecodeHeader(e.From), quarantine.DecodeHeader(e.Subject)}, e.Rcpts...), "\n"))
			if strings.Contains(hay, needle) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	slices.SortStableFunc(entries, func(a, b quarantine.Entry) int {
		c := a.Time.Compare(b.Time)
		if sortBy == "score" {
			c = cmp.Or(cmp.Compare(a.Score, b.Score), c)
		}
		c = cmp.Or(c, strings.Compare(a.ID, b.ID))
		if dir == "desc" {
			return -c
		}
		return c
	})
	d := listData{page: s.pageFor(r, "Quarantine", "list"), Q: search, Sort: sortBy, Dir: dir, Total: len(entries), Learning: s.cfg.Tokens != nil}
	d.Pages = max(1, (len(entries)+pageSize-1)/pageSize)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	from := (d.Page - 1) * pageSize
	to := min(from+pageSize, len(entries))
	d.First, d.Last = from+1, to
	for _, e := range entries[from:to] {
		rc := ""
		if len(e.Rcpts) > 0 {
			rc = e.Rcpts[0]
			if len(e.Rcpts) > 1 {
				rc += fmt.Sprintf(" +%d", len(e.Rcpts)-1)
			}
		}
		d.Rows = append(d.Rows, row{Entry: e, Rcpt: rc, Subject: quarantine.DecodeHeader(e.Subject), Releasing: e.Release != nil})
	}
	link := func(v url.Values) string { return "/?" + v.Encode() }
	base := url.Values{}
	if search != "" {
		base.Set("q", search)
	}
	with := func(k, v string, more ...string) string {
		u := url.Values{}
		for k, x := range base {
			u[k] = x
		}
		u.Set("sort", sortBy)
		u.Set("dir", dir)
		u.Set(k, v)
		for i := 0; i+1 < len(more); i += 2 {
			u.Set(more[i], more[i+1])
		}
		return link(u)
	}
	if d.Page > 1 {
		d.Prev = with("page", strconv.Itoa(d.Page-1))
	}
	if d.Page < d.Pages {
		d.Next = with("page", strconv.Itoa(d.Page+1))
	}
	toggle := func(col string) string {
		nd := "desc"
		if sortBy == col && dir == "desc" {
			nd = "asc"
		}
		return with("sort", col, "dir", nd, "page", "1")
	}
	d.SortDate, d.SortScore = toggle("date"), toggle("score")
	s.render(w, r, http.StatusOK, "list", d)
}

// actions a reviewer can take, by the name their button posts.
var actions = map[string]string{
	"notspam": "released as not spam",
	"spam":    "deleted as spam",
	"release": "released",
	"delete":  "deleted",
}

// do carries out one action on one entry for the session's user.
func (s *Server) do(ctx context.Context, ss *session, action, id string) error {
	e, rc, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	rc.Close()
	if !ss.user.Sees(e.Rcpts) {
		return quarantine.ErrNotFound
	}
	releasing := action == "notspam" || action == "release"
	if releasing && !owns(ss.user, e.Rcpts) {
		return fmt.Errorf("it was held for other recipients too; ask a reviewer to release it")
	}
	if releasing && e.Release != nil {
		return fmt.Errorf("%w by %s; delivery is pending: %s", quarantine.ErrReleased, e.Release.By, e.Release.LastError)
	}
	if action == "notspam" || action == "spam" {
		if err := s.learn(ctx, e.ID, action == "spam"); err != nil {
			return err
		}
	}
	switch action {
	case "notspam", "release":
		got, err := s.cfg.Releaser.Release(ctx, e.ID, ss.user.Name)
		if err != nil {
			return err
		}
		if got.Release != nil && len(got.Release.Pending) > 0 {
			s.cfg.Log.Info("web: release deferred", "queue_id", e.ID, "err", got.Release.LastError)
		}
	case "spam", "delete":
		if err := quarantine.Discard(ctx, s.cfg.Store, e.ID, ss.user.Name, action == "spam"); err != nil {
			return err
		}
	}
	s.cfg.Log.Info("web: "+actions[action], "queue_id", e.ID, "user", ss.user.Name)
	return nil
}

func (s *Server) learn(ctx context.Context, id string, spam bool) error {
	if s.cfg.Tokens == nil {
		return nil
	}
	ts, err := s.cfg.Tokens()
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	_, err = quarantine.Learn(ctx, s.cfg.Store, ts, id, spam, s.cfg.LearnBytes)
	return err
}

// owns reports whether every recipient is u's: a recipient may release
// only mail held for nobody else.
func owns(u User, rcpts []string) bool {
	for _, r := range rcpts {
		if !u.Sees([]string{r}) {
			return false
		}
	}
	return true
}

func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	action, id := r.PathValue("action"), quarantine.CanonicalID(r.PathValue("id"))
	if _, ok := actions[action]; !ok || !quarantine.ValidID(id) {
		s.fail(w, r, http.StatusNotFound, "No such page.")
		return
	}
	if err := s.do(r.Context(), current(r), action, id); err != nil {
		if errors.Is(err, quarantine.ErrNotFound) {
			s.fail(w, r, http.StatusNotFound, "Message "+id+" is not in the quarantine (any more).")
			return
		}
		s.fail(w, r, http.StatusConflict, "Message "+id+": "+err.Error())
		return
	}
	http.Redirect(w, r, "/?notice="+url.QueryEscape("Message "+id+" "+actions[action]+"."), http.StatusSeeOther)
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request) {
	action := r.PostFormValue("action")
	ids := r.PostForm["id"]
	if _, ok := actions[action]; !ok || len(ids) == 0 {
		http.Redirect(w, r, "/?notice="+url.QueryEscape("Select messages and an action."), http.StatusSeeOther)
		return
	}
	var done int
	var failed []string
	for _, id := range ids {
		id = quarantine.CanonicalID(id)
		if !quarantine.ValidID(id) {
			continue
		}
		if err := s.do(r.Context(), current(r), action, id); err != nil {
			failed = append(failed, id+": "+err.Error())
			continue
		}
		done++
	}
	msg := fmt.Sprintf("%d message(s) %s.", done, actions[action])
	if len(failed) > 0 {
		msg += " Not done: " + strings.Join(failed, "; ")
	}
	http.Redirect(w, r, "/?notice="+url.QueryEscape(msg), http.StatusSeeOther)
}

// entryFor reads an entry and its message for viewing, if the session's
// user may see it.
func (s *Server) entryFor(r *http.Request) (quarantine.Entry, []byte, error) {
	id := r.PathValue("id")
	if !quarantine.ValidID(id) {
		return quarantine.Entry{}, nil, quarantine.ErrNotFound
	}
	e, rc, err := s.cfg.Store.Get(r.Context(), id)
	if err != nil {
		return e, nil, err
	}
	defer rc.Close()
	if !current(r).user.Sees(e.Rcpts) {
		return e, nil, quarantine.ErrNotFound
	}
	raw, err := io.ReadAll(io.LimitReader(rc, maxView))
	return e, raw, err
}

type clueRow struct {
	quarantine.Clue
	Spammy bool
	Width  int // percent of the bar, 0 to 100: how far from 0.5
}

type viewData struct {
	page
	E          quarantine.Entry
	Subject    string
	From       string
	Msg        parsed
	Tests      []filters.Score
	Clues      []clueRow
	CanRelease bool
	Learning   bool
	Expires    time.Time
}

func (s *Server) view(w http.ResponseWriter, r *http.Request) {
	e, raw, err := s.entryFor(r)
	if err != nil {
		if errors.Is(err, quarantine.ErrNotFound) {
			s.fail(w, r, http.StatusNotFound, "Message "+r.PathValue("id")+" is not in the quarantine (any more).")
			return
		}
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := viewData{page: s.pageFor(r, "Message "+e.ID, "list"), E: e, Subject: quarantine.DecodeHeader(e.Subject), From: quarantine.DecodeHeader(e.From),
		Msg: parse(raw), Tests: slices.Clone(e.Tests), CanRelease: e.Release == nil && owns(current(r).user, e.Rcpts), Learning: s.cfg.Tokens != nil}
	if s.cfg.Releaser != nil {
		d.Expires = e.Time.Add(s.cfg.Releaser.Retention)
	}
	slices.SortStableFunc(d.Tests, func(a, b filters.Score) int { return cmp.Compare(math.Abs(b.Points), math.Abs(a.Points)) })
	if e.Bayes != nil {
		for _, c := range e.Bayes.Clues {
			d.Clues = append(d.Clues, clueRow{Clue: c, Spammy: c.Prob >= 0.5, Width: int(math.Round(math.Abs(c.Prob-0.5) * 200))})
		}
	}
	s.render(w, r, http.StatusOK, "view", d)
}

// frameCSP is the HTML part's policy: no script, nothing loaded from
// anywhere (images only from data: URLs), its own origin sandboxed, shown
// only in this site's frame.
const frameCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; sandbox; frame-ancestors 'self'; form-action 'none'; base-uri 'none'"

func (s *Server) htmlPart(w http.ResponseWriter, r *http.Request) {
	_, raw, err := s.entryFor(r)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", frameCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, parse(raw).HTML)
}
