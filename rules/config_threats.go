package rules

import (
	"fmt"
	"math"
	"strings"
	"time"

	"mailguard/antivirus"
	"mailguard/attachments"
)

// AttachmentsConfig is the "attachments" section: the policy on the files
// a message carries (see package attachments).
type AttachmentsConfig struct {
	// Enabled puts the policy in the chain (default true).
	Enabled bool `yaml:"enabled"`
	// Extensions are the executable file name extensions, without the
	// dot; a list in the file replaces the default one.
	Extensions []string `yaml:"extensions"`
	// One action per class: reject, quarantine, score (with weight) or
	// off.
	Executable      ClassRule `yaml:"executable"`
	DoubleExtension ClassRule `yaml:"double_extension"`
	Mismatch        ClassRule `yaml:"mismatch"`
	Encrypted       ClassRule `yaml:"encrypted"`
	Unscannable     ClassRule `yaml:"unscannable"`
	Limits          ClassRule `yaml:"limits"`
	// Bounds on the walk through archives: nesting, files, and bytes
	// decompressed.
	MaxDepth         int   `yaml:"max_depth"`
	MaxFiles         int   `yaml:"max_files"`
	MaxExpandedBytes int64 `yaml:"max_expanded_bytes"`
}

// ClassRule is one class's action in the attachments section.
type ClassRule struct {
	Action string  `yaml:"action"`
	Weight float64 `yaml:"weight"`
}

// AntivirusConfig is the "antivirus" section: scanning with clamd.
type AntivirusConfig struct {
	// Clamd is "host:port" or "unix:/path/to/clamd.ctl"; "" is off.
	Clamd string `yaml:"clamd"`
	// Action for an infected message: reject (554 5.7.0) or quarantine.
	Action string `yaml:"action"`
	// OnError when clamd cannot be asked: tempfail (451 4.7.1) or accept.
	OnError string `yaml:"on_error"`
	// Timeout bounds one scan.
	Timeout time.Duration `yaml:"timeout"`
}

// rules returns the attachments classes' rules.
func (a AttachmentsConfig) rules() map[attachments.Class]ClassRule {
	return map[attachments.Class]ClassRule{
		attachments.Executable:      a.Executable,
		attachments.DoubleExtension: a.DoubleExtension,
		attachments.Mismatch:        a.Mismatch,
		attachments.Encrypted:       a.Encrypted,
		attachments.Unscannable:     a.Unscannable,
		attachments.Limits:          a.Limits,
	}
}

func init() {
	registerDefaults(func(c *Config) {
		d := attachments.DefaultRules()
		r := func(cl attachments.Class) ClassRule {
			return ClassRule{Action: string(d[cl].Action), Weight: d[cl].Weight}
		}
		c.Attachments = AttachmentsConfig{
			Enabled:          true,
			Extensions:       attachments.DefaultExtensions(),
			Executable:       r(attachments.Executable),
			DoubleExtension:  r(attachments.DoubleExtension),
			Mismatch:         r(attachments.Mismatch),
			Encrypted:        r(attachments.Encrypted),
			Unscannable:      r(attachments.Unscannable),
			Limits:           r(attachments.Limits),
			MaxDepth:         attachments.DefaultMaxDepth,
			MaxFiles:         attachments.DefaultMaxFiles,
			MaxExpandedBytes: attachments.DefaultMaxExpandedBytes,
		}
		c.Antivirus = AntivirusConfig{Action: "reject", OnError: "tempfail", Timeout: antivirus.DefaultTimeout}
	})
	registerValidator(validateThreats)
}

func validateThreats(c *Config, v *validator) {
	a := c.Attachments
	for cl, r := range a.rules() {
		k := "attachments." + string(cl)
		switch attachments.Action(r.Action) {
		case attachments.ActionReject, attachments.ActionQuarantine, attachments.ActionOff:
		case attachments.ActionScore:
			if r.Weight == 0 || math.IsNaN(r.Weight) || math.IsInf(r.Weight, 0) {
				v.Errorf(k+".weight", "must be a number of points (not 0) when action is score, got %v", r.Weight)
			}
		default:
			v.Errorf(k+".action", "must be reject, quarantine, score or off, got %q", r.Action)
		}
	}
	for i, e := range a.Extensions {
		e = strings.TrimPrefix(e, ".")
		if e == "" || strings.ContainsAny(e, "./\\ \t") {
			v.Errorf(fmt.Sprintf("attachments.extensions[%d]", i), "must be a file name extension such as exe, got %q", a.Extensions[i])
		}
	}
	if a.MaxDepth < 1 || a.MaxDepth > 20 {
		v.Errorf("attachments.max_depth", "must be 1-20, got %d", a.MaxDepth)
	}
	if a.MaxFiles < 1 {
		v.Errorf("attachments.max_files", "must be at least 1, got %d", a.MaxFiles)
	}
	if a.MaxExpandedBytes < 1024 {
		v.Errorf("attachments.max_expanded_bytes", "must be at least 1024, got %d", a.MaxExpandedBytes)
	}

	av := c.Antivirus
	if av.Clamd != "" {
		if _, err := antivirus.NewClient(av.Clamd, av.Timeout); err != nil {
			v.Errorf("antivirus.clamd", "%v", err)
		}
	}
	switch av.Action {
	case "reject", "quarantine":
	default:
		v.Errorf("antivirus.action", "must be reject or quarantine, got %q", av.Action)
	}
	switch av.OnError {
	case "tempfail", "accept":
	default:
		v.Errorf("antivirus.on_error", "must be tempfail or accept, got %q", av.OnError)
	}
	if av.Timeout <= 0 {
		v.Errorf("antivirus.timeout", "must be a duration over 0, got %v", av.Timeout)
	}
}
