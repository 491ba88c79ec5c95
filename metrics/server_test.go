package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServer(t *testing.T) {
	backendUp := true
	s, err := Listen("127.0.0.1:0", []Check{
		{Name: "always", Run: func(context.Context) error { return nil }},
		{Name: "backend", Run: func(context.Context) error {
			if backendUp {
				return nil
			}
			return errors.New("connection refused")
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	base := "http://" + s.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	Transactions.Inc()
	tests := []struct {
		path     string
		up       bool
		code     int
		contains string
	}{
		{"/healthz", true, 200, "ok"},
		{"/readyz", true, 200, "ready"},
		{"/readyz", false, 503, "backend: connection refused"},
		{"/healthz", false, 200, "ok"},
		{"/metrics", true, 200, "mailguard_transactions_total"},
		{"/nothing", true, 404, ""},
	}
	for _, tt := range tests {
		backendUp = tt.up
		code, body := get(tt.path)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s (backend up %v): %d %q, want %d with %q", tt.path, tt.up, code, body, tt.code, tt.contains)
		}
	}
}
