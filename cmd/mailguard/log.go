package main

import (
	"io"
	"log/slog"

	"mailguard/rules"
)

// newLogger builds serve's logger from the log section: log/slog's text or
// JSON handler at the configured level. The configuration is validated
// before, so an unknown value cannot reach here; it would get text at info.
func newLogger(w io.Writer, c rules.LogConfig) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
