// Package audit writes Rotor's audit events (one JSON line per
// security-relevant act, through a dedicated slog logger) and carries the
// request id that ties an event to the request and log lines that caused it.
package audit
