package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"mailguard/rules"
)

// With debug.listen set, an operator can fetch profiles from the running
// gateway; without it nothing listens.
func TestDebugServiceServesProfiles(t *testing.T) {
	cfg := rules.Default()
	if svc, err := newDebugService(&serveEnv{Config: cfg, Log: slog.Default()}); svc != nil || err != nil {
		t.Fatalf("debug.listen unset: service %v err %v, want none", svc, err)
	}
	cfg.Debug.Listen = "127.0.0.1:0"
	svc, err := newDebugService(&serveEnv{Config: cfg, Log: slog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	ds := svc.(*debugService)
	done := make(chan error, 1)
	go func() { done <- ds.Serve() }()
	t.Cleanup(func() {
		ds.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	resp, err := http.Get("http://" + ds.l.Addr().String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("GET goroutine profile: %s\n%.200s", resp.Status, body)
	}
}
