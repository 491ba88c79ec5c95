package rules

import (
	"mailguard/verify"
)

// auth.senders_file lists, for each AUTH user, the addresses and @domains
// it may write in From: (verify.ParseSenders); a user not listed owns its
// login when that is an address. A message from an authenticated client
// with any other From: gets a Sender: header naming the user, or, with
// auth.reject_sender_mismatch, 553 5.7.1.

func init() {
	registerValidator(func(c *Config, v *validator) {
		f := c.Auth.SendersFile
		if f == "" {
			return
		}
		data, err := readListFile(f)
		if err == nil {
			_, err = verify.ParseSenders(data)
		}
		if err != nil {
			v.Errorf("auth.senders_file", "%s: %v", f, err)
		}
	})
}
