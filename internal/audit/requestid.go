package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
)

// HeaderRequestID is the header that carries a request's id both ways.
const HeaderRequestID = "X-Request-Id"

// MaxRequestIDLen bounds a client-supplied request id.
const MaxRequestIDLen = 64

type requestIDKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a fresh id: 96 random bits, base64url.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// AcceptRequestID reports whether a client-supplied id may be kept: 1 to
// MaxRequestIDLen characters, each a letter, a digit or one of - _ . : so it
// can go into logs and headers as it is, with nothing to escape or inject.
func AcceptRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// ContextHandler adds the request id of the record's context to every log
// record, so that a request's log lines and audit events can be joined.
type ContextHandler struct{ slog.Handler }

// Handle adds request_id when the context carries one.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h ContextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}
