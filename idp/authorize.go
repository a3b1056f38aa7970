package idp

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2):
// response_type=code only, PKCE S256 for every client (RFC 7636, RFC 9700
// §2.1.1), iss on every response (RFC 9207). An unknown client_id or a
// redirect_uri that is not registered is an error page, never a redirect
// (RFC 6749 §4.1.2.1): whoever could pick the redirect target could collect
// codes and errors. Every other error goes back to the client.

// Bounds on what an authorization request may carry; beyond them the
// request is refused rather than carried into pages, cookies and codes.
const (
	maxStateLen     = 1024
	maxNonceLen     = 512
	maxLoginHintLen = 128
	maxScopeLen     = 2048
	maxRequestLen   = 8 << 10 // the whole query
)

// OpenID Connect scopes (Core §3.1.2.1, §5.4, §11). Every client with the
// authorization_code grant may ask for openid, profile and email;
// offline_access only a client that may use refresh tokens. Other scopes
// must be registered for the client.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// authzParams are the parameters of an authorization request Rotor reads;
// the hidden request field of its forms carries them, and nothing else.
var authzParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
	"nonce", "prompt", "max_age", "login_hint", "response_mode",
}

// authzRequest is a checked authorization request.
type authzRequest struct {
	client        Client
	redirectURI   string // where the answer goes
	redirectParam string // redirect_uri as sent; "" if it was left out
	state         string
	scope         []string
	codeChallenge string
	nonce         string
	prompt        prompt
	maxAge        int // seconds; -1 if absent
	loginHint     string
	params        url.Values // as sent; see carried
}

// prompt is the OpenID Connect prompt parameter (Core §3.1.2.1).
type prompt struct{ none, login, consent bool }

// authzError is a refused authorization request. A page error is shown to
// the user; any other is sent to the client's redirect URI with error,
// error_description, state and iss (RFC 6749 §4.1.2.1, RFC 9207).
type authzError struct {
	code string // RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error code
	desc string // fixed text; never echoes the request
	page bool   // show a page, do not redirect
	err  error  // the cause of a server_error, for the failure page and the log
}

func (e *authzError) Error() string { return e.code + ": " + e.desc }

func authzRedirectError(code, desc string) *authzError { return &authzError{code: code, desc: desc} }

func authzPageError(desc string) *authzError {
	return &authzError{code: "invalid_request", desc: desc, page: true}
}

// parseAuthzQuery parses a raw query (or form body) of an authorization
// request into single values. A repeated parameter is refused (RFC 6749
// §3.1), with a page if it is one that decides where errors go.
func parseAuthzQuery(raw string) (url.Values, *authzError) {
	if len(raw) > maxRequestLen {
		return nil, authzPageError("The sign-in request is too long.")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, authzPageError("The sign-in request is malformed.")
	}
	for _, p := range []string{"client_id", "redirect_uri"} {
		if len(q[p]) > 1 {
			return nil, authzPageError("The sign-in request repeats " + p + ".")
		}
	}
	return q, nil
}

// checkAuthz checks an authorization request: first the client and the
// redirect URI (page errors), then everything else (redirect errors, with
// req filled in enough to redirect). The client comes from the cache.
func (s *server) checkAuthz(r *http.Request, q url.Values) (*authzRequest, *authzError) {
	req := &authzRequest{maxAge: -1}
	id := q.Get("client_id")
	if id == "" || len(id) > maxClientIDLen {
		return nil, authzPageError("The sign-in request does not name a known application (client_id).")
	}
	c, err := s.client(r, id)
	if errors.Is(err, ErrNotFound) {
		return nil, authzPageError("The sign-in request does not name a known application (client_id).")
	}
	if err != nil {
		return nil, &authzError{code: "server_error", desc: "client lookup failed", page: true, err: err}
	}
	req.client = c
	req.redirectParam = q.Get("redirect_uri")
	switch {
	case req.redirectParam != "" && MatchRedirectURI(c.RedirectURIs, req.redirectParam):
		req.redirectURI = req.redirectParam
	case req.redirectParam == "" && len(c.RedirectURIs) == 1:
		// RFC 6749 §3.1.2.3: may be left out when only one is registered.
		req.redirectURI = c.RedirectURIs[0]
	case req.redirectParam == "":
		return nil, authzPageError("The sign-in request does not say where to return to (redirect_uri).")
	default:
		return nil, authzPageError("The sign-in request asks to return to an address that is not registered for " + c.DisplayName() + " (redirect_uri).")
	}
	// From here on errors go back to the client; state is echoed if it is
	// sane (a huge one is dropped rather than sent back).
	if st := q["state"]; len(st) == 1 && len(st[0]) <= maxStateLen {
		req.state = st[0]
	}
	if e := req.checkParams(q); e != nil {
		return req, e
	}
	req.params = q
	return req, nil
}

// checkParams checks everything but the client and its redirect URI.
func (req *authzRequest) checkParams(q url.Values) *authzError {
	for _, p := range authzParams {
		if len(q[p]) > 1 {
			return authzRedirectError("invalid_request", "parameter "+p+" is repeated")
		}
	}
	c := req.client
	switch {
	case q.Has("request"):
		return authzRedirectError("request_not_supported", "request objects are not supported")
	case q.Has("request_uri"):
		return authzRedirectError("request_uri_not_supported", "request_uri is not supported")
	case len(q.Get("state")) > maxStateLen:
		return authzRedirectError("invalid_request", "state is too long")
	case q.Get("response_type") == "":
		return authzRedirectError("invalid_request", "response_type is required")
	case q.Get("response_type") != "code":
		return authzRedirectError("unsupported_response_type", "only response_type=code is supported")
	case q.Has("response_mode") && q.Get("response_mode") != "query":
		return authzRedirectError("invalid_request", "only response_mode=query is supported")
	case !slices.Contains(c.GrantTypes, GrantAuthorizationCode):
		return authzRedirectError("unauthorized_client", "the client may not use the authorization code grant")
	}
	if e := req.checkPKCE(q); e != nil {
		return e
	}
	if e := req.checkScope(q.Get("scope")); e != nil {
		return e
	}
	if e := req.checkOIDC(q); e != nil {
		return e
	}
	return nil
}

// checkPKCE requires an S256 code challenge (RFC 7636 §4.3, §4.4.1; RFC
// 9700 §2.1.1: plain is refused). An S256 challenge is the base64url of a
// SHA-256, 43 characters.
func (req *authzRequest) checkPKCE(q url.Values) *authzError {
	ch, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case ch == "":
		return authzRedirectError("invalid_request", "code_challenge is required (PKCE, RFC 7636, method S256)")
	case method == "" || method == "plain":
		return authzRedirectError("invalid_request", "code_challenge_method must be S256; plain is not accepted")
	case method != "S256":
		return authzRedirectError("invalid_request", "code_challenge_method must be S256")
	case !validChallenge(ch):
		return authzRedirectError("invalid_request", "code_challenge must be 43 base64url characters (S256)")
	}
	req.codeChallenge = ch
	return nil
}

// validChallenge reports whether ch is the base64url, unpadded, of 32 bytes.
func validChallenge(ch string) bool {
	if len(ch) != 43 {
		return false
	}
	_, err := b64Strict.DecodeString(ch)
	return err == nil
}

// checkScope decides the scope: the requested one if the client may have
// all of it, or the client's registered scopes when none is asked for.
func (req *authzRequest) checkScope(raw string) *authzError {
	c := req.client
	if len(raw) > maxScopeLen {
		return authzRedirectError("invalid_scope", "scope is too long")
	}
	want, ok := parseScope(raw)
	if !ok {
		return authzRedirectError("invalid_scope", "scope is malformed")
	}
	if len(want) == 0 {
		req.scope = slices.Clone(c.Scopes)
		return nil
	}
	for _, sc := range want {
		switch {
		case sc == ScopeOpenID || sc == ScopeProfile || sc == ScopeEmail:
		case sc == ScopeOfflineAccess && slices.Contains(c.GrantTypes, GrantRefreshToken):
		case slices.Contains(c.Scopes, sc):
		default:
			return authzRedirectError("invalid_scope", "requested scope is not allowed for this client")
		}
	}
	req.scope = want
	return nil
}

// checkOIDC reads prompt, max_age, nonce and login_hint (OIDC Core
// §3.1.2.1).
func (req *authzRequest) checkOIDC(q url.Values) *authzError {
	if raw := q.Get("prompt"); raw != "" {
		for _, v := range strings.Split(raw, " ") {
			switch v {
			case "none":
				req.prompt.none = true
			case "login":
				req.prompt.login = true
			case "consent":
				req.prompt.consent = true
			case "select_account":
				// One account per browser session: nothing to select.
			default:
				return authzRedirectError("invalid_request", "prompt has an unknown value")
			}
		}
		if req.prompt.none && (req.prompt.login || req.prompt.consent || strings.Contains(raw, "select_account")) {
			return authzRedirectError("invalid_request", "prompt=none cannot be combined with other values")
		}
	}
	if raw := q.Get("max_age"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || strconv.Itoa(n) != raw {
			return authzRedirectError("invalid_request", "max_age must be a non-negative number of seconds")
		}
		req.maxAge = n
	}
	req.nonce = q.Get("nonce")
	if len(req.nonce) > maxNonceLen {
		return authzRedirectError("invalid_request", "nonce is too long")
	}
	if h := q.Get("login_hint"); len(h) <= maxLoginHintLen && checkText(h) == nil {
		req.loginHint = h // a hint: an unusable one is dropped
	}
	return nil
}

// carriedParams is the canonical encoding (sorted by name) of the
// parameters Rotor reads, which its forms carry to the next step.
func carriedParams(q url.Values) string {
	keep := url.Values{}
	for _, p := range authzParams {
		if v := q.Get(p); v != "" {
			keep.Set(p, v)
		}
	}
	return keep.Encode()
}

// carried is what the forms of Rotor's pages carry to the next step: the
// request's parameters, canonical. Only pages need it, so it is built then.
func (req *authzRequest) carried() string { return carriedParams(req.params) }
