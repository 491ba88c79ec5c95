package web

import (
	"errors"
	"net/http"

	"mailguard/quarantine"
)

type linkData struct {
	page
	E       quarantine.Entry
	Subject string
	Rcpt    string
	Query   map[string]string
	Done    bool
}

// link serves a digest's release link: GET shows the message and a
// button (so a mail scanner that fetches links releases nothing), POST
// releases it. The signature stands in for a login and a CSRF token.
func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.cfg.Links == nil || !quarantine.ValidID(id) {
		s.fail(w, r, http.StatusNotFound, "No such page.")
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		r.ParseForm()
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	rcpt, err := s.cfg.Links.Verify(id, q, s.cfg.Now())
	if err != nil {
		s.fail(w, r, http.StatusForbidden, "This release link is not valid: it was altered or has expired. Ask your mail administrator, quoting the queue id.")
		return
	}
	e, rc, err := s.cfg.Store.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "This message is no longer in the quarantine: it was released, deleted or has expired.")
		return
	}
	rc.Close()
	if !quarantine.SoleRecipient(e, rcpt) {
		s.fail(w, r, http.StatusForbidden, "This message was held for other recipients too: ask your mail administrator.")
		return
	}
	d := linkData{page: page{Title: "Release a held message"}, E: e, Subject: quarantine.DecodeHeader(e.Subject), Rcpt: rcpt,
		Query: map[string]string{"r": q.Get("r"), "e": q.Get("e"), "s": q.Get("s")}}
	if r.Method == http.MethodPost {
		if _, err := s.cfg.Releaser.Release(r.Context(), e.ID, rcpt+" (digest link)"); err != nil {
			if errors.Is(err, quarantine.ErrReleased) {
				s.fail(w, r, http.StatusConflict, "This message was released already.")
				return
			}
			s.fail(w, r, http.StatusInternalServerError, "The message could not be released: "+err.Error())
			return
		}
		s.cfg.Log.Info("web: released by digest link", "queue_id", e.ID, "rcpt", rcpt)
		d.Done = true
	}
	s.render(w, r, http.StatusOK, "link", d)
}
