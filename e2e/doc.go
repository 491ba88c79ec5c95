// Package e2e holds no code of its own: its tests drive the built mailguard
// binary as an operator would, with a configuration file, `mailguard serve`
// or another command, real SMTP over 127.0.0.1 sockets, a recording backend
// MTA (internal/testutil/smtptest) and a DNS server answering from zone text
// (internal/testutil/dnstest), never the machine's resolver.
//
// Where the machine has them, real peers join in: a private Postfix in
// front of the gateway (milter) or behind it, clamd, Redis shared by two
// gateways, and Chromium driving the review UI. A test whose peer is missing
// skips, saying which. The wire tests compare what crosses each socket byte
// for byte; load and classifier benchmarks live here too.
package e2e
