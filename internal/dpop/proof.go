package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

// HeaderName is the request header that carries a proof (RFC 9449 §4.1) and
// TokenType the token_type and Authorization scheme of a bound token (§5, §7.1).
const (
	HeaderName = "DPoP"
	TokenType  = "DPoP"
	NonceName  = "DPoP-Nonce"
	proofType  = "dpop+jwt"
	// MaxProofLen bounds a proof before anything parses it: an RSA-4096
	// key and its signature are well under it.
	MaxProofLen = 4096
)

// DefaultAlgs are the asymmetric algorithms Rotor accepts for proofs, in the
// order metadata lists them. Symmetric algorithms and none are never accepted
// (RFC 9449 §4.3 item 5).
var DefaultAlgs = []string{"ES256", "EdDSA", "RS256", "PS256", "ES384", "PS384", "RS384", "ES512", "PS512", "RS512"}

// Why a proof is refused. Every one of them is invalid_dpop_proof on the
// wire except ErrUseNonce, which is use_dpop_nonce (RFC 9449 §8).
var (
	ErrMissing     = errors.New("dpop: no proof")
	ErrMultiple    = errors.New("dpop: more than one DPoP header")
	ErrMalformed   = errors.New("dpop: proof is not a compact JWS")
	ErrType        = errors.New("dpop: typ is not dpop+jwt")
	ErrAlg         = errors.New("dpop: algorithm not accepted")
	ErrKey         = errors.New("dpop: jwk missing, symmetric or private")
	ErrSignature   = errors.New("dpop: signature does not verify")
	ErrClaims      = errors.New("dpop: claims missing or malformed")
	ErrMethod      = errors.New("dpop: htm does not match the request")
	ErrURI         = errors.New("dpop: htu does not match the request")
	ErrIssuedAt    = errors.New("dpop: iat outside the accepted window")
	ErrAth         = errors.New("dpop: ath missing or not the token's hash")
	ErrReplay      = errors.New("dpop: jti already used")
	ErrUseNonce    = errors.New("dpop: a fresh server nonce is required")
	ErrKeyMismatch = errors.New("dpop: token is bound to another key")
)

// Proof is a checked proof.
type Proof struct {
	JKT      string    // RFC 7638 SHA-256 thumbprint of the proof key, base64url
	JTI      string    // unique id; the caller keeps it until Expires
	Nonce    string    // "" if none; the caller checks it
	IssuedAt time.Time // iat
	Expires  time.Time // after this the proof is refused anyway: the replay record may go
}

// Checker holds the rules of a verifier. Zero fields take the defaults; it
// is safe for concurrent use once built.
type Checker struct {
	Algs   []string      // accepted algorithms (default DefaultAlgs)
	MaxAge time.Duration // how old iat may be (default 60s)
	Skew   time.Duration // how far in the future iat may be (default 5s)
}

// Request is what a proof must match.
type Request struct {
	Method      string    // htm
	URI         string    // htu: the absolute URI the client addressed, query ignored
	AccessToken string    // when a token is presented, its ath must match (§4.3 item 11)
	Now         time.Time //
}

// Check verifies proof against req per RFC 9449 §4.3, except jti replay and
// the nonce, which need the caller's state. It returns one of the errors
// above. The proof is parsed once, with Rotor's strict JOSE parser: the
// header (typ, an accepted asymmetric alg, a public jwk) is checked before
// the signature, and the claims are decoded only once it verifies.
func (c *Checker) Check(proof string, req Request) (Proof, error) {
	if proof == "" {
		return Proof{}, ErrMissing
	}
	if len(proof) > MaxProofLen {
		return Proof{}, ErrMalformed
	}
	parts, err := jws.Split(proof)
	if err != nil {
		return Proof{}, ErrMalformed
	}
	// The header, then the payload: sized for the longer of the two, as the
	// buffer escapes (the key is parsed from it).
	buf := make([]byte, max(jws.DecodedLen(len(parts.Header)), jws.DecodedLen(len(parts.Payload)), 0))
	n, ok := jws.Decode(buf, parts.Header)
	if !ok {
		return Proof{}, ErrMalformed
	}
	alg, key, err := c.parseHeader(buf[:n])
	if err != nil {
		return Proof{}, err
	}
	var sbuf [jws.MaxRSABits / 8]byte
	n, ok = jws.Decode(sbuf[:], parts.Signature)
	if !ok || !key.Verify(alg, parts.SigningInput, sbuf[:n]) {
		return Proof{}, ErrSignature
	}
	n, ok = jws.Decode(buf, parts.Payload)
	if !ok {
		return Proof{}, ErrClaims
	}
	cl, err := parseClaims(buf[:n])
	if err != nil {
		return Proof{}, err
	}
	return c.checkClaims(cl, key.Thumbprint(), req)
}

// checkClaims applies §4.3 items 8 to 11 to verified claims.
func (c *Checker) checkClaims(cl claims, jkt string, req Request) (Proof, error) {
	if cl.HTM != req.Method {
		return Proof{}, ErrMethod
	}
	if !SameURI(cl.HTU, req.URI) {
		return Proof{}, ErrURI
	}
	issued := time.Unix(cl.IAT, 0)
	maxAge, skew := c.window()
	if req.Now.Sub(issued) > maxAge || issued.Sub(req.Now) > skew {
		return Proof{}, ErrIssuedAt
	}
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		var want [43]byte
		base64.RawURLEncoding.Encode(want[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(cl.ATH), want[:]) != 1 {
			return Proof{}, ErrAth
		}
	}
	return Proof{JKT: jkt, JTI: cl.JTI, Nonce: cl.Nonce, IssuedAt: issued, Expires: issued.Add(maxAge + skew)}, nil
}

// parseHeader checks a proof's JOSE header: strict JSON, typ dpop+jwt, an
// accepted asymmetric alg, a public jwk, and no crit (RFC 7515 §4.1.11:
// Rotor understands no extension). It returns the alg and the key.
func (c *Checker) parseHeader(b []byte) (string, *jws.JWK, error) {
	var (
		typ, alg     string
		jwkRaw       []byte
		hasJWK, crit bool
		typOK, algOK = true, true
	)
	if !jws.Walk(b, func(name, v []byte) bool {
		switch string(name) {
		case "typ":
			typ, typOK = jws.Unquote(v)
		case "alg":
			alg, algOK = jws.Unquote(v)
		case "jwk":
			jwkRaw, hasJWK = v, true
		case "crit":
			crit = true
		}
		return true
	}) || crit {
		return "", nil, ErrMalformed
	}
	if !typOK || typ != proofType {
		return "", nil, ErrType
	}
	if !algOK || !slices.Contains(c.algs(), alg) || !slices.Contains(DefaultAlgs, alg) {
		return "", nil, ErrAlg
	}
	if !hasJWK {
		return "", nil, ErrKey
	}
	key, err := jws.ParseJWK(jwkRaw)
	if err != nil {
		return "", nil, ErrKey
	}
	return alg, key, nil
}

func (c *Checker) algs() []string {
	if len(c.Algs) == 0 {
		return DefaultAlgs
	}
	return c.Algs
}

func (c *Checker) window() (maxAge, skew time.Duration) {
	maxAge, skew = c.MaxAge, c.Skew
	if maxAge <= 0 {
		maxAge = 60 * time.Second
	}
	if skew <= 0 {
		skew = 5 * time.Second
	}
	return maxAge, skew
}

// SameURI compares an htu with the request URI (RFC 9449 §4.3 item 9):
// scheme and host case-insensitively, default ports dropped, path exactly,
// query and fragment ignored.
func SameURI(htu, uri string) bool {
	a, err := url.Parse(htu)
	if err != nil || !a.IsAbs() || a.User != nil {
		return false
	}
	if htu == uri { // the usual case: one parse is enough
		return true
	}
	b, err := url.Parse(uri)
	if err != nil || !b.IsAbs() {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b) && pathOf(a) == pathOf(b)
}

func hostPort(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		return host
	}
	return host + ":" + port
}

func pathOf(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}
