package rules

import (
	"mailguard/antivirus"
	"mailguard/attachments"
	"mailguard/filters"
)

// buildAntivirus builds the virus scan through clamd (antivirus).
func buildAntivirus(cfg *Config, d *Deps) ([]filters.Filter, error) {
	av := cfg.Antivirus
	if av.Clamd == "" {
		return nil, nil
	}
	cl, err := antivirus.NewClient(av.Clamd, av.Timeout)
	if err != nil {
		return nil, err
	}
	return []filters.Filter{antivirus.New(antivirus.Config{
		Client:     cl,
		Quarantine: av.Action == "quarantine",
		Accept:     av.OnError == "accept",
		Log:        d.Log,
	})}, nil
}

// buildAttachments builds the attachment rules (attachments).
func buildAttachments(cfg *Config, d *Deps) ([]filters.Filter, error) {
	a := cfg.Attachments
	if !a.Enabled {
		return nil, nil
	}
	rules := map[attachments.Class]attachments.Rule{}
	for cl, r := range a.rules() {
		rules[cl] = attachments.Rule{Action: attachments.Action(r.Action), Weight: r.Weight}
	}
	return []filters.Filter{attachments.New(attachments.Config{
		Rules:      rules,
		Extensions: append([]string(nil), a.Extensions...),
		Limits: attachments.WalkLimits{
			MaxDepth:         a.MaxDepth,
			MaxFiles:         a.MaxFiles,
			MaxExpandedBytes: a.MaxExpandedBytes,
		},
		Log: d.Log,
	})}, nil
}
