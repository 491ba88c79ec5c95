package web

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User is one login of the review UI.
type User struct {
	Name string
	Hash []byte
	// Addresses limits the user to messages for these recipients
	// (lower-case; "@domain" for a whole domain); empty is a reviewer
	// who sees everything.
	Addresses []string
}

// Users are the logins by name.
type Users map[string]User

// ParseUsers reads a users file: one login a line, "user:bcrypt-hash" for
// a reviewer who sees the whole quarantine, or
// "user:bcrypt-hash:addr,addr,@domain" for a recipient who sees only the
// mail held for those addresses. Blank lines and lines starting with "#"
// are skipped. Errors name the line.
func ParseUsers(data []byte) (Users, error) {
	out := Users{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("line %d: not user:bcrypt-hash or user:bcrypt-hash:addresses", n)
		}
		u := User{Name: parts[0], Hash: []byte(parts[1])}
		if _, err := bcrypt.Cost(u.Hash); err != nil {
			return nil, fmt.Errorf("line %d: user %q: the hash is not bcrypt (htpasswd -B makes one)", n, u.Name)
		}
		if len(parts) == 3 {
			for _, a := range strings.Split(parts[2], ",") {
				a = strings.ToLower(strings.TrimSpace(a))
				if a == "" || !strings.Contains(a, "@") || strings.ContainsAny(a, " \t<>") {
					return nil, fmt.Errorf("line %d: user %q: %q is not an address or @domain", n, u.Name, a)
				}
				u.Addresses = append(u.Addresses, a)
			}
		}
		if _, dup := out[u.Name]; dup {
			return nil, fmt.Errorf("line %d: user %q listed twice", n, u.Name)
		}
		out[u.Name] = u
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Sees reports whether u may review mail held for rcpts.
func (u User) Sees(rcpts []string) bool {
	if len(u.Addresses) == 0 {
		return true
	}
	for _, r := range rcpts {
		r = strings.ToLower(r)
		_, dom, _ := strings.Cut(r, "@")
		for _, a := range u.Addresses {
			if a == r || (strings.HasPrefix(a, "@") && a[1:] == dom) {
				return true
			}
		}
	}
	return false
}
