package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

func init() { registerService("debug.listen", newDebugService) }

// debugService serves the Go profiler (net/http/pprof) under
// /debug/pprof/ on debug.listen, a loopback address (validation refuses
// any other).
type debugService struct {
	srv *http.Server
	l   net.Listener
}

func (d *debugService) Name() string { return "debug" }

func (d *debugService) Serve() error {
	if err := d.srv.Serve(d.l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (d *debugService) Shutdown(ctx context.Context) error { return d.srv.Shutdown(ctx) }

func newDebugService(env *serveEnv) (service, error) {
	addr := env.Config.Debug.Listen
	if addr == "" {
		return nil, nil
	}
	// Its own mux: importing net/http/pprof also registers on
	// http.DefaultServeMux, which nothing here serves.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug.listen: %w", err)
	}
	env.Log.Info("listening", "service", "debug", "addr", l.Addr().String())
	// No write timeout: a CPU profile or trace streams for its seconds=.
	return &debugService{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, l: l}, nil
}
