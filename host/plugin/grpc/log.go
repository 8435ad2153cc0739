package grpc

import (
	"context"
	"io"
	"log"
	"log/slog"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// hcLogger is go-plugin's logger (an hclog.Logger) writing to slog. What
// go-plugin says of itself is mostly lifecycle chatter: its Trace goes to
// slog at Debug-4, Debug and Info at Debug, Warn and Error at Info (the
// errors that matter come back from Load and Process). The sub-logger go-plugin
// names after the command parses the plugin's stderr; it is off, because
// ClientConfig.Stderr (a logWriter) logs those lines as they are.
type hcLogger struct {
	log        *slog.Logger
	name       string
	args       []any
	off        bool
	stderrName string
}

func newHCLogger(log *slog.Logger, stderrName string) hclog.Logger {
	return &hcLogger{log: log, stderrName: stderrName}
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Trace:
		return slog.LevelDebug - 4
	case l <= hclog.Info:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	if !h.enabled(lvl) {
		return
	}
	prefix := "go-plugin: "
	if h.name != "" {
		prefix = "go-plugin " + h.name + ": "
	}
	all := append(slices.Clone(h.args), args...)
	h.log.Log(context.Background(), lvl, prefix+msg, slog.Group("go_plugin", all...))
}

func (h *hcLogger) enabled(l slog.Level) bool {
	return !h.off && h.log.Enabled(context.Background(), l)
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }
func (h *hcLogger) IsTrace() bool                 { return h.enabled(slogLevel(hclog.Trace)) }
func (h *hcLogger) IsDebug() bool                 { return h.enabled(slogLevel(hclog.Debug)) }
func (h *hcLogger) IsInfo() bool                  { return h.enabled(slogLevel(hclog.Info)) }
func (h *hcLogger) IsWarn() bool                  { return h.enabled(slogLevel(hclog.Warn)) }
func (h *hcLogger) IsError() bool                 { return h.enabled(slogLevel(hclog.Error)) }
func (h *hcLogger) ImpliedArgs() []any            { return h.args }
func (h *hcLogger) Name() string                  { return h.name }
func (h *hcLogger) SetLevel(hclog.Level)          {}

func (h *hcLogger) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(slices.Clone(h.args), args...)
	return &c
}

func (h *hcLogger) Named(name string) hclog.Logger {
	c := *h
	c.off = h.off || name == h.stderrName
	if h.name != "" {
		name = h.name + "." + name
	}
	c.name = name
	return &c
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	c.off = name == h.stderrName
	return &c
}

func (h *hcLogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Warn} {
		if h.enabled(slogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (h *hcLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)
}

func (h *hcLogger) StandardWriter(o *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(o).Writer()
}
