package rules

import "testing"

func TestDebugListen(t *testing.T) {
	if cfg, _ := parse(t, ""); cfg.Debug.Listen != "" {
		t.Errorf("debug.listen defaults to %q, want off", cfg.Debug.Listen)
	}
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0", "127.0.0.2:6060"} {
		if _, problems := parse(t, "debug: {listen: \""+ok+"\"}"); len(problems) != 0 {
			t.Errorf("debug.listen %q: %v, want accepted", ok, problems)
		}
	}
	expectProblems(t, 0, []problemCase{
		{`debug: {listen: ":6060"}`, "debug.listen", "must be a loopback address"},
		{`debug: {listen: "0.0.0.0:6060"}`, "debug.listen", "must be a loopback address"},
		{`debug: {listen: "192.0.2.1:6060"}`, "debug.listen", "must be a loopback address"},
		{`debug: {listen: "mail.example.com:6060"}`, "debug.listen", "must be a loopback address"},
		{`debug: {listen: "127.0.0.1"}`, "debug.listen", "is not host:port"},
	})
}
