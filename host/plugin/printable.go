package plugin

import "github.com/valuescope/valuescope/host/plugin/internal/printable"

// Printable returns s cut to at most n bytes (at a character boundary, with
// "… (N bytes)" after it when cut; n ≤ 0: not cut) and made safe to print:
// control characters, Unicode formatting characters and invalid UTF-8 shown
// escaped, as Go writes them (\x1b, \u202e, \xff), new lines and tabs too,
// so that the result is one line. Whatever a plugin says goes through it
// before it reaches a terminal, a log or a report: the error messages stored
// for its conversations (whatever the backend put in them: a gRPC status
// message, the end of the plugin's stderr), the lines of RUN/plugins.log, the
// conformance kit's report.
func Printable(s string, n int) string { return printable.String(s, n) }
