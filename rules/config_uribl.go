package rules

import "mailguard/uribl"

// URIBLZone is one entry of the "uribl" section: a URI blocklist, shaped
// like a dnsbl entry, plus hosts for lists that index host names rather
// than registrable domains.
type URIBLZone struct {
	ListZone `yaml:",inline"`
	// Hosts asks the list for host names as written in the links
	// (default false: registrable domains, what DBL and SURBL index).
	Hosts bool `yaml:"hosts"`
}

func init() {
	registerDefaults(func(c *Config) {
		c.URIBL = []URIBLZone{}
		c.URIBLMaxLookups = uribl.DefaultMaxLookups
	})
	registerValidator(validateURIBL)
}

func validateURIBL(c *Config, v *validator) {
	zones := make([]ListZone, len(c.URIBL))
	for i := range c.URIBL {
		zones[i] = c.URIBL[i].ListZone
	}
	checkZones(v, "uribl", zones)
	for i := range c.URIBL {
		c.URIBL[i].Action = zones[i].Action
	}
	if c.URIBLMaxLookups < 1 || c.URIBLMaxLookups > 1000 {
		v.Errorf("uribl_max_lookups", "must be 1-1000, got %d", c.URIBLMaxLookups)
	}
}
