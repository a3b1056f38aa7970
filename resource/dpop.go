package resource

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// ErrInvalidDPoPProof means a DPoP-bound token came with no proof, a proof
// that fails RFC 9449 §4.3 (signature, typ, alg, jwk, htm, htu, iat, ath),
// a replayed proof, or a proof by another key than the token's cnf.jkt: the
// middleware answers 401 with a DPoP challenge, error="invalid_dpop_proof"
// (RFC 9449 §7.1).
var ErrInvalidDPoPProof = errors.New("resource: invalid DPoP proof")

var (
	errBoundAsBearer = invalid(detail("DPoP-bound token presented as a bearer token"))
	errUnboundDPoP   = invalid(detail("bearer token presented with the DPoP scheme"))
	errBearerRefused = invalid(detail("bearer tokens are not accepted"))
	errProofKey      = &detailError{ErrInvalidDPoPProof, detail("proof key is not the token's cnf.jkt")}
	errProofReplay   = &detailError{ErrInvalidDPoPProof, detail("proof replayed")}
)

const (
	defaultDPoPMaxAge      = 60 * time.Second
	defaultReplayCacheSize = 100000
)

func (v *Verifier) configureDPoP(cfg Config) error {
	if cfg.ExternalURL != "" {
		if err := checkURL("Config.ExternalURL", cfg.ExternalURL); err != nil {
			return err
		}
	}
	algs := cfg.DPoPAlgorithms
	if len(algs) == 0 {
		algs = dpop.DefaultAlgs
	}
	for _, a := range algs {
		if a == "none" || strings.HasPrefix(a, "HS") || !contains(dpop.DefaultAlgs, a) {
			return errors.New("resource: DPoP algorithm " + a + " is not supported (asymmetric algorithms only, RFC 9449 §4.3)")
		}
	}
	size := cfg.DPoPReplayCacheSize
	if size <= 0 {
		size = defaultReplayCacheSize
	}
	v.dpop = &dpop.Checker{Algs: algs, MaxAge: orDefault(cfg.DPoPMaxAge, defaultDPoPMaxAge)}
	v.replay = dpop.NewReplayCache(size)
	v.externalURL = strings.TrimSuffix(cfg.ExternalURL, "/")
	v.requireDPoP = cfg.RequireDPoP
	v.dpopAlgs = strings.Join(algs, " ")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// VerifyRequest authenticates a request the way Authenticate does: the
// access token of its one Authorization header, with the Bearer scheme (RFC
// 6750) or the DPoP scheme and a DPoP proof (RFC 9449 §7). A token bound to
// a key (cnf.jkt) passes only with the DPoP scheme and a fresh proof by that
// key for this request; the verified-token cache spares the token's
// signature, never the proof.
func (v *Verifier) VerifyRequest(r *http.Request) (Claims, error) {
	scheme, token, err := authorization(r.Header)
	if err != nil {
		return Claims{}, err
	}
	if tokenInQuery(r.URL.RawQuery) {
		return Claims{}, errTwoMethods // RFC 6750 §2: one method per request
	}
	c, err := v.Verify(r.Context(), token)
	if err != nil {
		return Claims{}, err
	}
	if c, err = v.checkBinding(r, scheme, token, c); err != nil {
		v.rejected(err)
		return Claims{}, err
	}
	return c, nil
}

// checkBinding applies RFC 9449 §7 to a verified token: the scheme must
// match its binding, and a bound token needs a fresh proof by its key.
func (v *Verifier) checkBinding(r *http.Request, scheme, token string, c Claims) (Claims, error) {
	if scheme != dpop.TokenType {
		switch {
		case c.JKT != "":
			return Claims{}, errBoundAsBearer // RFC 9449 §7.2
		case v.requireDPoP:
			return Claims{}, errBearerRefused
		}
		return c, nil
	}
	if c.JKT == "" {
		return Claims{}, errUnboundDPoP
	}
	return c, v.checkProof(r, token, c.JKT)
}

// checkProof checks the request's one DPoP proof for the token bound to jkt.
func (v *Verifier) checkProof(r *http.Request, token, jkt string) error {
	vals := r.Header.Values(dpop.HeaderName)
	if len(vals) != 1 {
		return &detailError{ErrInvalidDPoPProof, dpop.ErrMissing}
	}
	now := v.now()
	p, err := v.dpop.Check(vals[0], dpop.Request{Method: r.Method, URI: v.requestURL(r), AccessToken: token, Now: now})
	if err != nil {
		return &detailError{ErrInvalidDPoPProof, err}
	}
	if p.JKT != jkt {
		return errProofKey
	}
	if !v.replay.Use(p.JKT, p.JTI, p.Expires, now) {
		return errProofReplay
	}
	return nil
}

// requestURL is the htu a proof for r must name: ExternalURL and the path,
// or the request's own scheme, host and path.
func (v *Verifier) requestURL(r *http.Request) string {
	if v.externalURL != "" {
		return v.externalURL + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// authorization splits the one Authorization header into its scheme (Bearer
// or DPoP, matched case-insensitively, RFC 9110 §11.1) and token68.
func authorization(h http.Header) (scheme, token string, err error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", "", ErrNoToken
	case 1:
	default:
		return "", "", ErrInvalidRequest
	}
	s, rest, _ := strings.Cut(vals[0], " ")
	switch {
	case strings.EqualFold(s, "Bearer"):
		scheme = "Bearer"
	case strings.EqualFold(s, dpop.TokenType):
		scheme = dpop.TokenType
	default:
		return "", "", ErrInvalidRequest
	}
	token = strings.TrimLeft(rest, " ")
	if !isB64Token(token) {
		return "", "", ErrInvalidRequest
	}
	return scheme, token, nil
}

// writeAuthError answers a failed VerifyRequest: RFC 6750 §3 for bearer
// presentations, RFC 9449 §7.1 DPoP challenges (with the accepted algs) for
// DPoP ones and wherever a DPoP token is expected. Only fixed text is
// written.
func (v *Verifier) writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	dpopScheme := strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "dpop ")
	h := w.Header()
	challenge := func(code, desc string) string {
		c := `DPoP algs="` + v.dpopAlgs + `"`
		if code != "" {
			c = `DPoP error="` + code + `", error_description="` + desc + `", algs="` + v.dpopAlgs + `"`
		}
		return c
	}
	switch {
	case errors.Is(err, ErrNoToken):
		h.Set("Cache-Control", "no-store")
		if !v.requireDPoP {
			h.Add("WWW-Authenticate", "Bearer")
		}
		h.Add("WWW-Authenticate", challenge("", ""))
		w.WriteHeader(http.StatusUnauthorized)
	case errors.Is(err, ErrInvalidDPoPProof):
		writeDPoPError(w, http.StatusUnauthorized, "invalid_dpop_proof", challenge("invalid_dpop_proof", "the DPoP proof is invalid"))
	case errors.Is(err, ErrInvalidToken) && (dpopScheme || v.requireDPoP || errors.Is(err, errBoundAsBearer)):
		writeDPoPError(w, http.StatusUnauthorized, "invalid_token", challenge("invalid_token", "the access token is invalid"))
	case errors.Is(err, ErrInvalidRequest) && (dpopScheme || v.requireDPoP):
		writeDPoPError(w, http.StatusBadRequest, "invalid_request", challenge("invalid_request", "malformed Authorization header"))
	default:
		writeError(w, err, "")
	}
}

func writeDPoPError(w http.ResponseWriter, status int, code, challenge string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":"` + code + `"}` + "\n"))
}
