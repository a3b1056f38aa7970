package idp

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-idp/rotor/internal/audit"
)

// observe gives every request its id (X-Request-Id: the client's when it is
// a short token of safe characters, a fresh one otherwise), puts it in the
// request context for log lines and audit events, and records the request
// in the HTTP metrics by chi route pattern — never by path, which is the
// client's to choose.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(audit.HeaderRequestID)
		if !audit.AcceptRequestID(id) {
			id = audit.NewRequestID()
		}
		w.Header()[audit.HeaderRequestID] = []string{id}
		r = r.WithContext(audit.WithRequestID(r.Context(), id))
		if s.metrics == nil {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil {
			route = rc.RoutePattern()
		}
		s.metrics.request(route, r.Method, sw.status, time.Since(start))
	})
}

// auditEvent writes an audit event for a request: its remote address and
// id come from r.
func (s *server) auditEvent(r *http.Request, name string, actor audit.Actor, outcome string, attrs ...slog.Attr) {
	if s.audit == nil {
		return
	}
	s.audit.Emit(r.Context(), audit.Event{
		Name: name, Actor: actor, Outcome: outcome, Remote: s.proxies.clientAddr(r).String(), Attrs: attrs,
	})
}

// loginObserved records a password sign-in's outcome (authenticate's
// result) in the metrics and the audit log. A wrong password, an unknown
// user and a disabled user are the same "bad_credentials" failure.
func (s *server) loginObserved(r *http.Request, clientID, name string, u User, err error) {
	var throttled *throttledError
	var busy *busyError
	outcome, event, reason := "succeeded", audit.LoginSucceeded, ""
	switch {
	case err == nil:
	case errors.As(err, &throttled):
		outcome, event, reason = "throttled", audit.LoginThrottled, throttled.reason
	case errors.As(err, &busy):
		outcome, event, reason = "busy", audit.LoginFailed, "busy"
	case errors.Is(err, errBadCredentials):
		outcome, event, reason = "failed", audit.LoginFailed, "bad_credentials"
	default:
		outcome, event, reason = "error", audit.LoginFailed, "unavailable"
	}
	if outcome == "throttled" {
		s.metrics.login(outcome, reason)
	} else {
		s.metrics.login(outcome, "")
	}
	if err == nil {
		s.auditEvent(r, event, audit.User(u.ID), audit.OutcomeSuccess, slog.String("client_id", clientID))
		return
	}
	s.auditEvent(r, event, audit.Client(clientID), audit.OutcomeFailure,
		slog.String("reason", reason), slog.String("username", auditName(name)))
}

// auditName is a sign-in's username as the audit log shows it: plain text
// of bounded length, or "" (what the form could not have offered as a name).
func auditName(name string) string {
	if len(name) > maxUsernameLen || checkText(name) != nil {
		return ""
	}
	return name
}

// tokenIssued records an access token the token endpoint is about to send.
func (s *server) tokenIssued(r *http.Request, grant string, t *tokenResponse) {
	s.metrics.tokenIssued(grant, t.alg)
	if s.audit == nil {
		return
	}
	actor := audit.Client(t.clientID)
	if t.sub != t.clientID || grant != GrantClientCredentials {
		actor = audit.User(t.sub)
	}
	s.auditEvent(r, audit.TokenIssued, actor, audit.OutcomeSuccess,
		slog.String("grant", grant), slog.String("client_id", t.clientID), slog.String("sub", t.sub),
		slog.String("jti", t.jti), slog.String("kid", t.kid), slog.Bool("refresh_token", t.RefreshToken != ""),
		slog.Bool("dpop_bound", t.dpopBound))
}

// refreshReuseObserved records reuse of a spent refresh token, which
// revoked its family.
func (s *server) refreshReuseObserved(r *http.Request, fam Family, clientID string) {
	s.metrics.refreshReused()
	s.auditEvent(r, audit.RefreshReused, audit.Client(clientID), audit.OutcomeFailure,
		slog.String("family_id", fam.ID), slog.String("sub", fam.Subject))
	s.auditEvent(r, audit.RefreshFamilyRevoked, audit.Client(clientID), audit.OutcomeSuccess,
		slog.String("family_id", fam.ID), slog.String("sub", fam.Subject), slog.String("reason", "refresh_token_reuse"))
}

// familyLimitObserved records n families revoked because a user and client
// had more than the cap.
func (s *server) familyLimitObserved(r *http.Request, clientID, sub string, n int) {
	s.metrics.familiesLimited(n)
	s.auditEvent(r, audit.RefreshFamilyRevoked, audit.Client(clientID), audit.OutcomeSuccess,
		slog.String("sub", sub), slog.String("reason", "family_limit"), slog.Int("count", n))
}

// revokeObserved records a successful RFC 7009 request; familyID is the
// family it revoked, "" when it revoked nothing.
func (s *server) revokeObserved(r *http.Request, clientID, familyID string) {
	s.metrics.revoked(familyID != "")
	if familyID == "" {
		return
	}
	s.auditEvent(r, audit.TokenRevoked, audit.Client(clientID), audit.OutcomeSuccess,
		slog.String("family_id", familyID), slog.String("token_type", "refresh_token"))
	s.auditEvent(r, audit.RefreshFamilyRevoked, audit.Client(clientID), audit.OutcomeSuccess,
		slog.String("family_id", familyID), slog.String("reason", "revoked_by_client"))
}

// storeOp is implemented by store errors that name the operation that
// failed (a fixed string such as "use refresh token").
type storeOp interface {
	error
	StoreOp() string
}

// errorObserved records an error answer: the token endpoint's by RFC 6749
// error code, and every 5xx caused by a store failure by its operation.
func (s *server) errorObserved(oe *oauthError) {
	if s.metrics == nil || oe.Status < 500 || oe.cause == nil {
		return
	}
	if op, ok := errors.AsType[storeOp](oe.cause); ok {
		s.metrics.storeFailed(op.StoreOp())
	}
}

// withRequestLog wraps the server's logger so that every line logged with a
// request's context carries its request id.
func withRequestLog(l *slog.Logger) *slog.Logger {
	return slog.New(audit.ContextHandler{Handler: l.Handler()})
}
