package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
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

// claims are the proof's payload (RFC 9449 §4.2).
type claims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.Number     `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce json.RawMessage `json:"nonce"`
}

// Check verifies proof against req per RFC 9449 §4.3, except jti replay and
// the nonce, which need the caller's state. It returns one of the errors
// above.
func (c *Checker) Check(proof string, req Request) (Proof, error) {
	if proof == "" {
		return Proof{}, ErrMissing
	}
	if len(proof) > MaxProofLen || strings.Count(proof, ".") != 2 {
		return Proof{}, ErrMalformed
	}
	// One parse: the key provider checks the header and hands jws.Verify
	// the header's own key, which is what a proof is signed with (§4.3).
	var (
		key       jwk.Key
		headerErr error
	)
	provider := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		key, headerErr = c.headerKey(sig.ProtectedHeaders())
		if headerErr != nil {
			return headerErr
		}
		alg, _ := sig.ProtectedHeaders().Algorithm()
		sink.Key(alg, key)
		return nil
	})
	payload, err := jws.Verify([]byte(proof), jws.WithCompact(), jws.WithKeyProvider(provider))
	switch {
	case headerErr != nil:
		return Proof{}, headerErr
	case key == nil:
		return Proof{}, ErrMalformed
	case err != nil:
		return Proof{}, ErrSignature
	}
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil || cl.JTI == "" || len(cl.JTI) > 256 || cl.HTM == "" || cl.HTU == "" {
		return Proof{}, ErrClaims
	}
	iat, err := cl.IAT.Int64()
	if err != nil {
		return Proof{}, ErrClaims
	}
	var nonce string
	if len(cl.Nonce) > 0 && json.Unmarshal(cl.Nonce, &nonce) != nil {
		return Proof{}, ErrClaims
	}
	if cl.HTM != req.Method {
		return Proof{}, ErrMethod
	}
	if !SameURI(cl.HTU, req.URI) {
		return Proof{}, ErrURI
	}
	issued := time.Unix(iat, 0)
	maxAge, skew := c.window()
	if req.Now.Sub(issued) > maxAge || issued.Sub(req.Now) > skew {
		return Proof{}, ErrIssuedAt
	}
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(cl.ATH), []byte(want)) != 1 {
			return Proof{}, ErrAth
		}
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return Proof{}, ErrKey
	}
	return Proof{JKT: jkt, JTI: cl.JTI, Nonce: nonce, IssuedAt: issued, Expires: issued.Add(maxAge + skew)}, nil
}

// headerKey checks a proof's header (typ, an accepted asymmetric alg, a
// public jwk) and returns its key.
func (c *Checker) headerKey(h jws.Headers) (jwk.Key, error) {
	if typ, _ := h.Type(); typ != proofType {
		return nil, ErrType
	}
	alg, ok := h.Algorithm()
	if !ok || !slices.Contains(c.algs(), alg.String()) || alg.IsSymmetric() {
		return nil, ErrAlg
	}
	key, ok := h.JWK()
	if !ok || key.KeyType() == jwa.OctetSeq() || isPrivate(key) {
		return nil, ErrKey
	}
	return key, nil
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

// isPrivate reports whether k carries private members (RFC 9449 §4.3 item 7).
func isPrivate(k jwk.Key) bool {
	if p, ok := k.(interface{ IsPrivate() bool }); ok && p.IsPrivate() {
		return true
	}
	for _, m := range privateMembers {
		if k.Has(m) {
			return true
		}
	}
	return false
}

// privateMembers are the JWK members of private and symmetric keys (RFC 7518
// §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of k, base64url: the jkt of
// RFC 9449 §6.1.
func Thumbprint(k jwk.Key) (string, error) {
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// SameURI compares an htu with the request URI (RFC 9449 §4.3 item 9):
// scheme and host case-insensitively, default ports dropped, path exactly,
// query and fragment ignored.
func SameURI(htu, uri string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(uri)
	if err1 != nil || err2 != nil || !a.IsAbs() || !b.IsAbs() || a.User != nil {
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
