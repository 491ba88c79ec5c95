package rules

import (
	"mailguard/antivirus"
	"mailguard/attachments"
	"mailguard/filters"
)

func init() {
	register(62, "antivirus", func(cfg *Config, d *Deps) ([]filters.Filter, error) {
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
	})
	register(64, "attachments", func(cfg *Config, d *Deps) ([]filters.Filter, error) {
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
			MaxBytes: cfg.MaxMessageBytes,
			Log:      d.Log,
		})}, nil
	})
}
