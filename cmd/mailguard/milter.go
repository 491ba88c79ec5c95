package main

import (
	"context"
	"net"
	"path/filepath"

	"mailguard/milter"
	"mailguard/quarantine"
	"mailguard/rules"
)

func init() {
	registerService("milter.listen", newMilterService)
}

// milterService runs the milter front end on milter.listen.
type milterService struct {
	srv  *milter.Server
	l    net.Listener
	addr string
}

func newMilterService(env *serveEnv) (service, error) {
	cfg := env.Config
	if cfg.Milter.Listen == "" {
		return nil, nil
	}
	mode, err := rules.ParseSocketMode(cfg.Milter.SocketMode)
	if err != nil {
		return nil, err
	}
	srv, err := milter.New(milter.Config{
		Chain:            env.Chain,
		Holder:           quarantine.Holder{Store: env.Quarantine},
		QuarantineAction: milter.QuarantineAction(cfg.Milter.QuarantineAction),
		RelayByMTA:       cfg.Milter.RelayControl == rules.MilterRelayMTA,
		SpoolDir:         filepath.Join(cfg.DataDir, "spool"),
		MaxMessageBytes:  cfg.MaxMessageBytes,
		DataTimeout:      cfg.Limits.DataTimeout,
		Log:              env.Log,
	})
	if err != nil {
		return nil, err
	}
	l, err := milter.Listen(cfg.Milter.Listen, mode)
	if err != nil {
		return nil, err
	}
	env.Log.Info("listening", "service", "milter", "addr", cfg.Milter.Listen, "quarantine_action", cfg.Milter.QuarantineAction,
		"relay_control", cfg.Milter.RelayControl)
	return &milterService{srv: srv, l: l, addr: cfg.Milter.Listen}, nil
}

func (m *milterService) Name() string { return "milter" }

func (m *milterService) Serve() error { return m.srv.Serve(m.l) }

func (m *milterService) Shutdown(ctx context.Context) error { return m.srv.Shutdown(ctx) }
