package proxy

import "mailguard/filters"

// newQueueID returns a queue id (or session id) of the form every front end
// uses.
func newQueueID() string { return filters.NewQueueID() }
