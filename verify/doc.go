// Package verify holds the envelope checks that decide who may send what to
// whom: the block and allow lists, relay control, sender domain verification
// (and the optional sender callout), recipient verification (a table file
// and the optional callout to the backend), the authenticated user's right
// to a sender address, and greylisting (RFC 6647).
//
// The checks follow Postfix's smtpd restrictions in what they check, when,
// and with which reply, because that is what operators know:
// check_client_access and check_sender_access (lists), reject_unauth_destination
// (relay), reject_unknown_sender_domain (sender), reject_unlisted_recipient
// and reject_unverified_recipient (recipients), reject_unverified_sender
// (sender callout), reject_sender_login_mismatch (the senders of
// authenticated users); greylisting follows postgrey.
package verify
