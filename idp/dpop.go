package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// DPoP at the token endpoint (RFC 9449). A token request with a valid proof
// gets an access token bound to the proof key (cnf.jkt, token_type DPoP);
// a public client's refresh-token family is bound to the key too, so a
// stolen refresh token is useless without the private key (§5). A proof is
// single use across every replica (the ReplayStore), and with
// Config.DPoPNonce it must carry a nonce this server issued (§8).

// errInvalidDPoPProof is RFC 9449 §5.3 (and §7.1 at resource servers).
func errInvalidDPoPProof(desc string) *oauthError {
	return &oauthError{Code: "invalid_dpop_proof", Description: desc, Status: http.StatusBadRequest}
}

// errUseDPoPNonce asks the client to retry with the nonce in the DPoP-Nonce
// header (RFC 9449 §8).
func errUseDPoPNonce(nonce string) *oauthError {
	return &oauthError{Code: "use_dpop_nonce", Description: "the DPoP proof must carry the server's nonce", Status: http.StatusBadRequest, dpopNonce: nonce}
}

// tokenProof checks the DPoP proof of a token request and returns the
// thumbprint of its key: "" when the request has no proof and the client
// does not require one.
func (s *server) tokenProof(r *http.Request, c Client) (string, error) {
	vals := r.Header.Values(dpop.HeaderName)
	switch {
	case len(vals) == 0 && c.RequireDPoP:
		return "", errInvalidDPoPProof("this client must present a DPoP proof")
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", errInvalidDPoPProof("more than one DPoP header")
	}
	now := s.now()
	p, err := s.dpop.Check(vals[0], dpop.Request{Method: r.Method, URI: s.tokenURL, Now: now})
	if err != nil {
		return "", errInvalidDPoPProof(proofDescription(err))
	}
	if s.cfg.DPoPNonce && !s.nonces.valid(p.Nonce, now) {
		return "", errUseDPoPNonce(s.nonces.current(now))
	}
	fresh, err := s.replay.UseOnce(r.Context(), replayKey("dpop", p.JKT, p.JTI), p.Expires, now)
	if err != nil {
		return "", storeError(err)
	}
	if !fresh {
		return "", errInvalidDPoPProof("the DPoP proof was already used")
	}
	return p.JKT, nil
}

// proofDescription says what is wrong with a proof in words fixed by Rotor,
// never echoing the proof.
func proofDescription(err error) string {
	switch err {
	case dpop.ErrType:
		return "the DPoP proof's typ must be dpop+jwt"
	case dpop.ErrAlg:
		return "the DPoP proof's algorithm is not supported"
	case dpop.ErrKey:
		return "the DPoP proof's jwk must be a public asymmetric key"
	case dpop.ErrMethod, dpop.ErrURI:
		return "the DPoP proof's htm or htu does not match the request"
	case dpop.ErrIssuedAt:
		return "the DPoP proof's iat is too old or in the future"
	case dpop.ErrSignature:
		return "the DPoP proof's signature does not verify"
	}
	return "the DPoP proof is malformed"
}

// replayKey names a JWT id within its scope (the kind of JWT and the key or
// client it belongs to), hashed so that every key has one size.
func replayKey(kind, scope, jti string) []byte {
	h := sha256.New()
	for _, part := range []string{kind, scope, jti} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return h.Sum(nil)
}

// nonceKeys make DPoP nonces without server state (RFC 9449 §8): a nonce is
// the current period's number and its MAC, so any replica that shares the
// form keys can issue and check one. A nonce is accepted during its period
// and the next, and a new one is issued every period.
type nonceKeys struct {
	keys   [][]byte // derived from the form keys; keys[0] issues
	period time.Duration
}

// dpopNoncePeriod is how often the nonce changes; a nonce lives one to two
// periods.
const dpopNoncePeriod = 5 * time.Minute

func newNonceKeys(formKeys [][]byte) nonceKeys {
	n := nonceKeys{period: dpopNoncePeriod}
	for _, fk := range formKeys {
		m := hmac.New(sha256.New, fk)
		m.Write([]byte("rotor-dpop-nonce:v1"))
		n.keys = append(n.keys, m.Sum(nil))
	}
	return n
}

func (n nonceKeys) epoch(now time.Time) uint64 { return uint64(now.UnixNano() / int64(n.period)) }

func (n nonceKeys) make(key []byte, epoch uint64) []byte {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], epoch)
	m := hmac.New(sha256.New, key)
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return b[:]
}

// current is the nonce to hand out now.
func (n nonceKeys) current(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(n.make(n.keys[0], n.epoch(now)))
}

// valid reports whether nonce was issued by a replica in this period or the
// previous one.
func (n nonceKeys) valid(nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	e, cur := binary.BigEndian.Uint64(b[:8]), n.epoch(now)
	if e != cur && e+1 != cur {
		return false
	}
	for _, k := range n.keys {
		if hmac.Equal(b, n.make(k, e)) {
			return true
		}
	}
	return false
}

// familyKey is the key a new refresh-token family is bound to: a public
// client's proof key (RFC 9449 §5); a confidential client's refresh tokens
// are bound to its authentication instead.
func familyKey(c Client, jkt string) string {
	if c.Public {
		return jkt
	}
	return ""
}
