// Package deps pins the modules the packages being written will import, so
// go.mod stays stable while they are; it goes away once they do.
package deps

import (
	_ "blitiri.com.ar/go/spf"
	_ "github.com/emersion/go-message"
	_ "github.com/emersion/go-msgauth/dkim"
	_ "github.com/emersion/go-msgauth/dmarc"
	_ "github.com/emersion/go-sasl"
	_ "github.com/emersion/go-smtp"
	_ "github.com/hashicorp/golang-lru/v2/expirable"
	_ "github.com/jdkato/prose/v2"
	_ "github.com/miekg/dns"
	_ "github.com/schollz/progressbar/v3"
	_ "go.etcd.io/bbolt"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/net/html"
	_ "golang.org/x/term"
	_ "golang.org/x/text/encoding/htmlindex"
)
