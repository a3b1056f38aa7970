package dpoptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
)

// Transport is a client's whole "no secrets" setup for golang.org/x/oauth2,
// as the README shows it: it signs a private_key_jwt assertion into every
// token request (with AuthStyleInParams and no secret, x/oauth2 sends only
// client_id), adds a fresh DPoP proof to every request, and an ath to every
// request carrying a DPoP token (x/oauth2 sends "Authorization: DPoP …" by
// itself, from the token_type).
type Transport struct {
	Base     http.RoundTripper // default http.DefaultTransport
	DPoP     *Prover           // the key tokens are bound to
	TokenURL string            // requests to it get the assertion
	ClientID string
	Key      *Prover // the client's authentication key; nil: no assertion
	KeyID    string
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	uri := *r.URL
	uri.RawQuery, uri.Fragment = "", ""
	if uri.String() == t.TokenURL && t.Key != nil {
		if err := t.addAssertion(r); err != nil {
			return nil, err
		}
	}
	var token string
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
		token = tok
	}
	proof, err := t.DPoP.MakeProof(r.Method, uri.String(), token, "")
	if err != nil {
		return nil, err
	}
	r.Header.Set("DPoP", proof)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// addAssertion appends a fresh client assertion (RFC 7523 §2.2) to the form
// body of a token request.
func (t *Transport) addAssertion(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": t.ClientID, "sub": t.ClientID, "aud": t.TokenURL,
		"iat": now, "exp": now + 60, "jti": RandomJTI()})
	h := jws.NewHeaders()
	if t.KeyID != "" {
		_ = h.Set(jws.KeyIDKey, t.KeyID)
	}
	a, err := jws.Sign(claims, jws.WithKey(t.Key.Alg, t.Key.Signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		return err
	}
	body = append(body, "&"+url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {string(a)},
	}.Encode()...)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
