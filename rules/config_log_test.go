package rules

import "testing"

func TestLogConfig(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte("log: {format: json}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Format != "json" || cfg.Log.Level != DefaultLogLevel {
		t.Errorf("log %+v, want json at the default level", cfg.Log)
	}
	expectProblems(t, 0, []problemCase{
		{"log: {format: logfmt}", "log.format", "must be text or json"},
		{"log: {level: verbose}", "log.level", "must be debug, info, warn or error"},
	})
}
