package audit

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Event names: one per security-relevant act. Each event carries the time,
// the name, the actor, the outcome, and for acts done over HTTP the remote
// address and the request id. No event ever carries a password, secret,
// token or key material: identifiers only (user and client ids, the jti of
// an access token, the kid of a key, the id of a refresh-token family).
const (
	LoginSucceeded       = "login.succeeded"
	LoginFailed          = "login.failed"
	LoginThrottled       = "login.throttled"
	TokenIssued          = "token.issued"
	RefreshReused        = "refresh.reused"
	RefreshFamilyRevoked = "refresh.family_revoked"
	TokenRevoked         = "token.revoked"
	AssertionRefused     = "client.assertion_refused" // private_key_jwt: reason, never the assertion
	DPoPProofRefused     = "dpop.proof_refused"       // at the token endpoint: reason, never the proof
	ClientCreated        = "client.created"
	ClientDeleted        = "client.deleted"
	ClientKeysChanged    = "client.keys_changed" // private_key_jwt keys replaced
	ConsentRevoked       = "consent.revoked"
	UserCreated          = "user.created"
	UserDisabled         = "user.disabled"
	UserEnabled          = "user.enabled"
	UserPasswordChanged  = "user.password_changed"
	KeyPublished         = "key.published"
	KeyActivated         = "key.activated"
	KeyRetired           = "key.retired"
	KeyRevoked           = "key.revoked"
	KEKRewrapped         = "kek.rewrapped"
)

// Actor types and outcomes.
const (
	ActorTypeUser   = "user"
	ActorTypeClient = "client"
	ActorCLI        = "cli"       // an admin command
	ActorScheduler  = "scheduler" // a replica's own key maintenance

	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Actor is who did the act: a user, a client, the CLI or the scheduler.
type Actor struct {
	Type string // ActorTypeUser, ActorTypeClient, ActorCLI, ActorScheduler
	ID   string // user id or client id; empty for the CLI and the scheduler
}

// CLI and Scheduler are the actors of admin commands and of a replica's own
// key maintenance.
var (
	CLI       = Actor{Type: ActorCLI}
	Scheduler = Actor{Type: ActorScheduler}
)

// User and Client name a user or a client as the actor.
func User(id string) Actor   { return Actor{Type: ActorTypeUser, ID: id} }
func Client(id string) Actor { return Actor{Type: ActorTypeClient, ID: id} }

// Logger writes audit events. A nil *Logger discards them, so code that
// audits needs no checks; all methods are safe for concurrent use.
type Logger struct {
	log  *slog.Logger
	out  *lineOut     // nil for NewWithHandler
	fast *lineHandler // New's handler: Emit encodes straight into it
}

// New returns a Logger that writes JSON lines to w, each marked
// "log":"audit" so that audit lines can be told apart when they share a
// stream with the server's log.
func New(w io.Writer) *Logger {
	h := newLineHandler(w, slog.LevelInfo)
	return &Logger{log: slog.New(h).With(slog.String("log", "audit")), out: h.out, fast: h}
}

// Flush writes every event emitted so far. Events are written by a
// goroutine of the Logger's, in batches, so that no request waits for the
// disk; Flush is for readers that need them now (tests, shutdown).
func (l *Logger) Flush() error {
	if l == nil || l.out == nil {
		return nil
	}
	return l.out.flush()
}

// Close flushes and stops the writer goroutine; events emitted after
// Close are written directly. It does not close the writer.
func (l *Logger) Close() error {
	if l == nil || l.out == nil {
		return nil
	}
	return l.out.close()
}

// NewWithHandler returns a Logger that writes through h.
func NewWithHandler(h slog.Handler) *Logger { return &Logger{log: slog.New(h)} }

// Event is one audit event; Attrs add the event's own fields (ids only).
type Event struct {
	Name    string
	Actor   Actor
	Outcome string // OutcomeSuccess unless set
	Remote  string // the client's address, for acts done over HTTP
	Attrs   []slog.Attr
}

// Emit writes e. The request id comes from ctx (see WithRequestID).
func (l *Logger) Emit(ctx context.Context, e Event) {
	if l == nil {
		return
	}
	outcome := e.Outcome
	if outcome == "" {
		outcome = OutcomeSuccess
	}
	if l.fast != nil {
		l.fast.emit(ctx, e, outcome)
		return
	}
	attrs := make([]slog.Attr, 0, 6+len(e.Attrs))
	attrs = append(attrs, slog.String("event", e.Name), slog.String("actor", e.Actor.Type))
	if e.Actor.ID != "" {
		attrs = append(attrs, slog.String("actor_id", e.Actor.ID))
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	if e.Remote != "" {
		attrs = append(attrs, slog.String("remote_addr", e.Remote))
	}
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	attrs = append(attrs, e.Attrs...)
	// Straight to the handler: Logger.LogAttrs would also walk the stack
	// for the caller's source position, which audit events do not show.
	r := slog.NewRecord(time.Now(), slog.LevelInfo, e.Name, 0)
	r.AddAttrs(attrs...)
	_ = l.log.Handler().Handle(ctx, r)
}
