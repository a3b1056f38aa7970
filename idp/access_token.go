package idp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/keys"
)

// accessClaims are an RFC 9068 access token's claims. Rotor writes them with
// appendJSON and reads them (introspection) with encoding/json.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Cnf      *cnf     `json:"cnf,omitempty"` // RFC 9449 §6.1: the DPoP key the token is bound to
}

// cnf is the confirmation claim (RFC 7800 §3.1) of a DPoP-bound token.
type cnf struct {
	JKT string `json:"jkt"`
}

// appendJSON appends the claims as the JSON object encoding/json would write
// for them (same members, order and escaping; a test holds the two equal).
// Issuing a token is the hot path of the token endpoint, and reflection cost
// more than everything else Rotor adds to the signature.
func (c *accessClaims) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"iss":`...)
	dst = appendJSONString(dst, c.Issuer)
	dst = append(dst, `,"sub":`...)
	dst = appendJSONString(dst, c.Subject)
	dst = append(dst, `,"aud":`...)
	dst = c.Audience.appendJSON(dst)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, c.Expiry, 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, c.IssuedAt, 10)
	if c.AuthTime != 0 {
		dst = append(dst, `,"auth_time":`...)
		dst = strconv.AppendInt(dst, c.AuthTime, 10)
	}
	dst = append(dst, `,"jti":`...)
	dst = appendJSONString(dst, c.JTI)
	dst = append(dst, `,"client_id":`...)
	dst = appendJSONString(dst, c.ClientID)
	if c.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = appendJSONString(dst, c.Scope)
	}
	if c.Cnf != nil {
		dst = append(dst, `,"cnf":{"jkt":`...)
		dst = appendJSONString(dst, c.Cnf.JKT)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// audience marshals as a string when there is one value and as an array
// otherwise (RFC 7519 §4.1.3), and reads either.
type audience []string

func (a audience) appendJSON(dst []byte) []byte {
	if len(a) == 1 {
		return appendJSONString(dst, a[0])
	}
	if a == nil {
		return append(dst, "null"...)
	}
	return appendJSONStrings(dst, a)
}

func (a audience) MarshalJSON() ([]byte, error) {
	return a.appendJSON(nil), nil
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// signer returns the key that signs the client's access tokens: its own
// algorithm or the server default. It is fetched before any state changes, so
// a missing key fails the request before a refresh token is spent.
func (s *server) signer(c Client) (*keys.SigningKey, error) {
	alg := keys.Alg(c.TokenAlg)
	if alg == "" {
		alg = s.cfg.DefaultAlg
	}
	k, ok := s.keys.Snapshot().Signer(alg)
	if !ok {
		return nil, errUnavailable(errors.New("no current signing key for " + string(alg)))
	}
	return k, nil
}

// mint signs an RFC 9068 access token for sub and returns the token response
// around it. A jkt binds the token to that DPoP key (RFC 9449 §6).
func (s *server) mint(k *keys.SigningKey, c Client, sub string, scope []string, authTime, now time.Time, jkt string) (*tokenResponse, error) {
	scopeStr := strings.Join(scope, " ")
	claims := accessClaims{
		Issuer:   s.cfg.Issuer,
		Subject:  sub,
		Audience: audience(c.Audiences),
		Expiry:   now.Add(s.cfg.AccessTokenTTL).Unix(),
		IssuedAt: now.Unix(),
		JTI:      randomID(),
		ClientID: c.ID,
		Scope:    scopeStr,
	}
	if !authTime.IsZero() {
		claims.AuthTime = authTime.Unix()
	}
	tokenType := "Bearer"
	if jkt != "" {
		claims.Cnf = &cnf{JKT: jkt}
		tokenType = dpop.TokenType
	}
	var buf [512]byte // claims are a few hundred bytes: no allocation
	payload := claims.appendJSON(buf[:0])
	s.signing.acquire()
	tok, err := k.Sign(payload)
	s.signing.release()
	if err != nil {
		return nil, errServer(err)
	}
	return &tokenResponse{
		AccessToken: tok,
		TokenType:   tokenType,
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		Scope:       scopeStr,
		alg:         k.Alg, kid: k.KID, jti: claims.JTI, sub: sub, clientID: c.ID,
	}, nil
}

// randomID returns 128 random bits, base64url: jti values and record ids.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
