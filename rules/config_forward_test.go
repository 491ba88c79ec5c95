package rules

import "testing"

func TestBackendForwardConfig(t *testing.T) {
	for in, want := range map[string]string{
		"":                            DefaultBackendForward,
		"backend_forward: off\n":      "off",
		"backend_forward: xforward\n": "xforward",
		"backend_forward: xclient\n":  "xclient",
	} {
		cfg, err := Parse("test.yaml", []byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if cfg.BackendForward != want {
			t.Errorf("%q: backend_forward %q, want %q", in, cfg.BackendForward, want)
		}
	}
}

func TestBackendForwardProblems(t *testing.T) {
	expectProblems(t, 0, []problemCase{
		{"backend_forward: XFORWARD", "backend_forward", "must be off, xforward or xclient"},
		{"backend_forward: proxy", "backend_forward", `got "proxy"`},
		{"backend_forward: false", "backend_forward", "must be off, xforward or xclient"},
	})
}
