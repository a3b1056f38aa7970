package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// CSRF tokens of Rotor's forms (login, consent, logout confirmation).
//
// A page that shows a form sets a browser cookie holding 256 random bits
// (csrfCookie, HttpOnly, SameSite=Lax, __Host- over https) unless the
// browser already has one, and puts a token in the form:
//
//	issued-at "." base64url(HMAC-SHA256(key, purpose, cookie, session id, request, issued-at))
//
// The POST is accepted only if the token verifies against the cookie the
// browser sends with it, under any of the form keys, and is less than
// formTokenTTL old. A cross-site page can neither read the cookie nor
// compute the MAC, so it cannot forge a login (login CSRF) or a consent;
// and a token is bound to the one authorization request it was shown for
// (the hidden "request" field), to the session for the consent form, and
// to its purpose, so no form's token works for another. The key is shared
// by the replicas (derived from the key-encryption keys by cmd/rotor), so
// nothing is kept server-side and any replica can check any form.
type formKeys struct {
	keys [][]byte // keys[0] signs; all verify
}

// formTokenTTL is how long a form may sit in a browser before its POST is
// refused: long enough to look up a password.
const formTokenTTL = time.Hour

// Purposes of form tokens.
const (
	purposeLogin   = "login"
	purposeConsent = "consent"
	purposeLogout  = "logout"
)

// formBinding is what a form token is bound to.
type formBinding struct {
	purpose   string
	cookie    string // the browser's CSRF cookie
	sessionID string // "" for a form shown without a session
	request   string // the form's hidden request, canonical
}

func (k formKeys) mac(key []byte, b formBinding, issued string) []byte {
	m := hmac.New(sha256.New, key)
	for _, part := range []string{"rotor-form:v1", b.purpose, b.cookie, b.sessionID, b.request, issued} {
		// Length-prefixed, so no two bindings share an input.
		m.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		m.Write([]byte{':'})
		m.Write([]byte(part))
	}
	return m.Sum(nil)
}

// mint returns a token for b.
func (k formKeys) mint(b formBinding, now time.Time) string {
	issued := strconv.FormatInt(now.Unix(), 10)
	return issued + "." + base64.RawURLEncoding.EncodeToString(k.mac(k.keys[0], b, issued))
}

// check reports whether tok is a token for b that is not older than
// formTokenTTL (nor from the future beyond a minute of clock skew between
// replicas).
func (k formKeys) check(tok string, b formBinding, now time.Time) bool {
	if b.cookie == "" || len(tok) > 80 {
		return false
	}
	issued, sum, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	at, err := strconv.ParseInt(issued, 10, 64)
	if err != nil || strconv.FormatInt(at, 10) != issued {
		return false
	}
	age := now.Sub(time.Unix(at, 0))
	if age > formTokenTTL || age < -time.Minute {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sum)
	if err != nil {
		return false
	}
	for _, key := range k.keys {
		if hmac.Equal(got, k.mac(key, b, issued)) {
			return true
		}
	}
	return false
}
