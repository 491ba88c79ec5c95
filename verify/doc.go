// Package verify holds the envelope checks that decide who may send what to
// whom: the block and allow lists, relay control, sender domain verification
// (and the optional sender callout) and recipient verification (a table file
// and the optional callout to the backend).
//
// The checks follow Postfix's smtpd restrictions in what they check, when,
// and with which reply, because that is what operators know:
// check_client_access and check_sender_access (lists), reject_unauth_destination
// (relay), reject_unknown_sender_domain (sender), reject_unlisted_recipient
// and reject_unverified_recipient (recipients), reject_unverified_sender
// (sender callout).
package verify
