package idp

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Why a refresh was refused; logged, never sent (the client always gets the
// same invalid_grant).
var (
	errRefreshWrongClient = errors.New("refresh token belongs to another client")
	errRefreshRevoked     = errors.New("refresh token family is revoked")
	errRefreshExpired     = errors.New("refresh token family has expired")
	errRefreshReused      = errors.New("spent refresh token presented again; family revoked")
	errRefreshUserOff     = errors.New("the user is disabled; family revoked")
	errRefreshWrongKey    = errors.New("refresh token family is bound to another DPoP key")
)

// errBadRefresh is the one answer to every refused refresh token.
var errBadRefresh = errInvalidGrant("refresh token is invalid, expired or revoked")

// refreshRequest is what decideRefresh needs to know about the request.
type refreshRequest struct {
	clientID      string
	jkt           string   // thumbprint of the request's DPoP key; "" without a proof
	scope         []string // requested; nil keeps the family's
	now           time.Time
	reuseInterval time.Duration
	newHash       []byte // the successor, generated before the transaction
}

// refreshDecision is what the rules decide about one presented token. A
// refusal may come with an update: reuse of a spent token is refused and
// revokes the family, and that revocation must be stored.
type refreshDecision struct {
	Update  RefreshUpdate // to apply, refused or not; zero changes nothing
	Refusal error         // nil: the refresh goes ahead; an *oauthError is sent as is
}

// decideRefresh is the refresh-token rule book, a pure function of the state
// read under the family lock and the request:
//   - the token is bound to its client (RFC 6749 §6, §10.4), and a bound
//     family to its DPoP key (RFC 9449 §5);
//   - a disabled user refreshes nothing, and the family is revoked (disabling
//     revokes it too; this holds even for a family that slipped past that);
//   - a revoked or expired family refreshes nothing, and rotation never extends
//     the family's absolute expiry;
//   - an unspent token is spent and replaced (RFC 9700 §4.14.2 rotation);
//   - a spent token presented again revokes the whole family (reuse detection),
//     unless it comes within the reuse interval and its replacement is still
//     unused, which is a client retrying a lost response: the unused
//     replacement is spent and another one issued, so one token stays live;
//   - the scope may narrow, never widen (RFC 6749 §6).
func decideRefresh(st RefreshState, req refreshRequest) refreshDecision {
	fam, tok := st.Family, st.Token
	switch {
	case fam.ClientID != req.clientID:
		return refreshDecision{Refusal: errRefreshWrongClient}
	case fam.JKT != "" && fam.JKT != req.jkt:
		// RFC 9449 §5: only the holder of the key may refresh. Nothing is
		// revoked: whoever lacks the key can do no harm with the token, and
		// revoking would let them end the holder's session.
		return refreshDecision{Refusal: errRefreshWrongKey}
	case !fam.RevokedAt.IsZero():
		return refreshDecision{Refusal: errRefreshRevoked}
	case st.UserDisabled:
		return refreshDecision{
			Update:  RefreshUpdate{RevokeAt: req.now, RevokeReason: "user_disabled"},
			Refusal: errRefreshUserOff,
		}
	case !req.now.Before(fam.ExpiresAt):
		return refreshDecision{Refusal: errRefreshExpired}
	}
	if req.scope != nil {
		granted, _ := parseScope(fam.Scope)
		if !subset(req.scope, granted) {
			return refreshDecision{Refusal: errInvalidScope("requested scope exceeds the scope of the grant")}
		}
	}
	next := &RefreshToken{Hash: req.newHash, FamilyID: fam.ID, Parent: tok.Hash, IssuedAt: req.now}
	if tok.SpentAt.IsZero() {
		return refreshDecision{Update: RefreshUpdate{SpendToken: req.now, Issue: next}}
	}
	if retry := st.Successor; retry != nil && retry.SpentAt.IsZero() && req.reuseInterval > 0 &&
		req.now.Sub(tok.SpentAt) <= req.reuseInterval {
		return refreshDecision{Update: RefreshUpdate{SpendSuccessor: req.now, Issue: next}}
	}
	return refreshDecision{
		Update:  RefreshUpdate{RevokeAt: req.now, RevokeReason: "refresh_token_reuse"},
		Refusal: errRefreshReused,
	}
}

// grantRefreshToken is RFC 6749 §6 with rotation and reuse detection.
func (s *server) grantRefreshToken(r *http.Request, f form, c Client, jkt string) (*tokenResponse, error) {
	presented := f.get("refresh_token")
	if presented == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	var scope []string
	if raw := f.get("scope"); raw != "" {
		var ok bool
		if scope, ok = parseScope(raw); !ok {
			return nil, errInvalidScope("scope is malformed")
		}
	}
	hash, ok := refreshTokenHash(presented)
	if !ok {
		return nil, errBadRefresh
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}

	now := s.now()
	newTok, newHash := newRefreshToken(now)
	req := refreshRequest{clientID: c.ID, jkt: jkt, scope: scope, now: now, reuseInterval: s.cfg.RefreshReuseInterval, newHash: newHash}
	var (
		fam Family
		d   refreshDecision
	)
	err = s.refresh.UseRefresh(r.Context(), hash, func(st RefreshState) (RefreshUpdate, error) {
		fam, d = st.Family, decideRefresh(st, req)
		// Never fail the callback, even to refuse: an error would roll the
		// transaction back, and a refusal for reuse carries the family's
		// revocation, which must commit (RFC 9700 §4.14.2). The refusal
		// travels in d instead and is answered below, after the commit.
		return d.Update, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errBadRefresh
	case err != nil:
		return nil, storeError(err)
	case d.Refusal != nil:
		return nil, s.refuseRefresh(r, d.Refusal, fam, c)
	}

	s.metrics.refreshRotated()
	if scope == nil {
		scope, _ = parseScope(fam.Scope)
	}
	resp, err := s.mint(k, c, fam.Subject, scope, fam.AuthTime, now, jkt)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = newTok
	return resp, nil
}

// refuseRefresh logs why a refresh was refused and returns the answer: an
// OAuth error the rules chose (invalid_scope) as it is, every other reason as
// the one invalid_grant, so that a client cannot tell them apart.
func (s *server) refuseRefresh(r *http.Request, refusal error, fam Family, c Client) error {
	if oe, ok := errors.AsType[*oauthError](refusal); ok {
		return oe
	}
	level := slog.LevelInfo
	if errors.Is(refusal, errRefreshReused) {
		level = slog.LevelWarn
		s.refreshReuseObserved(r, fam, c.ID)
	}
	s.log.LogAttrs(r.Context(), level, "refresh refused", slog.String("reason", refusal.Error()),
		slog.String("family_id", fam.ID), slog.String("client_id", c.ID))
	return errBadRefresh
}
