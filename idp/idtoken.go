package idp

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/rotor-idp/rotor/keys"
)

// idClaims are an OpenID Connect ID token's claims (Core §2, §3.1.3.6).
// The token is a JWS with typ JWT (keys.JWTType), never at+jwt, so that a
// resource server can never take it for an access token.
type idClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"` // the client: one audience
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce,omitempty"`
	AZP      string   `json:"azp"`
	ATHash   string   `json:"at_hash,omitempty"`
	SID      string   `json:"sid,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// appendJSON appends the claims as encoding/json would write them (a test
// holds the two equal), without reflection.
func (c *idClaims) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"iss":`...)
	dst = appendJSONString(dst, c.Issuer)
	dst = append(dst, `,"sub":`...)
	dst = appendJSONString(dst, c.Subject)
	dst = append(dst, `,"aud":`...)
	dst = appendJSONString(dst, c.Audience)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, c.Expiry, 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, c.IssuedAt, 10)
	dst = append(dst, `,"auth_time":`...)
	dst = strconv.AppendInt(dst, c.AuthTime, 10)
	if c.Nonce != "" {
		dst = append(dst, `,"nonce":`...)
		dst = appendJSONString(dst, c.Nonce)
	}
	dst = append(dst, `,"azp":`...)
	dst = appendJSONString(dst, c.AZP)
	if c.ATHash != "" {
		dst = append(dst, `,"at_hash":`...)
		dst = appendJSONString(dst, c.ATHash)
	}
	if c.SID != "" {
		dst = append(dst, `,"sid":`...)
		dst = appendJSONString(dst, c.SID)
	}
	if len(c.AMR) > 0 {
		dst = append(dst, `,"amr":[`...)
		for i, v := range c.AMR {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// idTokenSigner returns the key that signs the client's ID tokens: the
// client's own algorithm if it has one, else RS256, which OpenID Connect
// requires every provider to support (Core §15.1), else the server default
// when the RS256 lane is turned off.
func (s *server) idTokenSigner(c Client) (*keys.SigningKey, error) {
	alg := s.idTokenAlg(c)
	k, ok := s.keys.Snapshot().Signer(alg)
	if !ok {
		return nil, errUnavailable(errors.New("no current signing key for " + string(alg)))
	}
	return k, nil
}

func (s *server) idTokenAlg(c Client) keys.Alg {
	switch {
	case c.TokenAlg != "":
		return keys.Alg(c.TokenAlg)
	case s.hasAlg(keys.RS256):
		return keys.RS256
	}
	return s.cfg.DefaultAlg
}

func (s *server) hasAlg(a keys.Alg) bool {
	for _, x := range s.cfg.Algs {
		if x == a {
			return true
		}
	}
	return false
}

// idToken signs the ID token of a code exchange.
func (s *server) idToken(k *keys.SigningKey, c Client, ac AuthCode, accessToken string, now time.Time) (string, error) {
	claims := idClaims{
		Issuer: s.cfg.Issuer, Subject: ac.UserID, Audience: c.ID, AZP: c.ID,
		Expiry: now.Add(s.cfg.AccessTokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: ac.AuthTime.Unix(),
		Nonce: ac.Nonce, ATHash: atHash(k.Alg, accessToken), SID: ac.SessionID, AMR: ac.AMR,
	}
	var buf [768]byte
	payload := claims.appendJSON(buf[:0])
	s.signing.acquire()
	tok, err := k.AppendSignJWT(nil, payload)
	s.signing.release()
	if err != nil {
		return "", errServer(err)
	}
	return string(tok), nil
}

// atHash is the ID token's at_hash (OIDC Core §3.1.3.6): the left half of
// the hash of the access token, with the hash of the signing algorithm:
// SHA-256 for RS256, SHA-512 for EdDSA with Ed25519 (as the OpenID
// Foundation's errata and relying parties such as go-oidc read it).
func atHash(alg keys.Alg, accessToken string) string {
	if alg == keys.EdDSA {
		sum := sha512.Sum512([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
