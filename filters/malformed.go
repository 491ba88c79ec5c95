package filters

import "fmt"

// fault is one way a message is malformed: its configuration key and the
// text the 550 5.6.0 reply names it with.
type fault struct {
	kind string
	text string
}

// singleFields may appear at most once (RFC 5322 section 3.6, the fields
// SPEC.md lists), in the order their duplicates are reported.
var singleFields = []string{"From", "Sender", "Date", "To", "Cc", "Subject", "Message-ID", "Reply-To"}

// headerFaults lists what is malformed in the message as received, from the
// facts the spool gathered; the multipart boundary needs the body and is
// found by the MIME walk. The order is the order of SPEC.md.
func headerFaults(m *Message) []fault {
	var fs []fault
	if m.HasNUL {
		fs = append(fs, fault{"nul", "NUL byte in message"})
	}
	if m.LongLineAt > 0 {
		// RFC 5322 section 2.1.1: lines are at most 998 octets.
		fs = append(fs, fault{"long_line", fmt.Sprintf("line %d longer than 998 octets", m.LongLineAt)})
	}
	if len(m.HeaderFaults) > 0 {
		fs = append(fs, fault{"header_syntax", "malformed header " + m.HeaderFaults[0]})
	}
	if !m.Header.Has("From") {
		fs = append(fs, fault{"missing_from", "no From header"})
	}
	for _, name := range singleFields {
		if m.Header.Count(name) > 1 {
			fs = append(fs, fault{"duplicate_header", "duplicate " + name + " header"})
			break
		}
	}
	return fs
}
