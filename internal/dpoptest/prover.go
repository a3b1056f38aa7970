package dpoptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Prover holds a client's DPoP key pair.
type Prover struct {
	Alg    jwa.SignatureAlgorithm
	Signer crypto.Signer
	Public jwk.Key // the public JWK the proofs carry
	JKT    string  // its RFC 7638 thumbprint, base64url
}

// New makes a key pair for alg: ES256, EdDSA, RS256 or PS256.
func New(t testing.TB, alg string) *Prover {
	t.Helper()
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "PS256":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("dpoptest: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.PublicKeyOf(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("dpoptest: unknown alg %s", alg)
	}
	return &Prover{Alg: a, Signer: signer, Public: pub, JKT: base64.RawURLEncoding.EncodeToString(tp)}
}

// Claims are a proof's claims; zero members are left out.
type Claims struct {
	JTI   string `json:"jti,omitempty"`
	HTM   string `json:"htm,omitempty"`
	HTU   string `json:"htu,omitempty"`
	IAT   int64  `json:"iat,omitempty"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof is a valid proof for method and uri now; token, if not "", is the
// access token it presents (ath) and nonce, if not "", the server's nonce.
func (p *Prover) Proof(t testing.TB, method, uri, token, nonce string) string {
	t.Helper()
	proof, err := p.MakeProof(method, uri, token, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// MakeProof is Proof for code that has no testing.TB (a client transport).
func (p *Prover) MakeProof(method, uri, token, nonce string) (string, error) {
	c := Claims{JTI: RandomJTI(), HTM: method, HTU: uri, IAT: time.Now().Unix(), Nonce: nonce}
	if token != "" {
		c.ATH = ATH(token)
	}
	return p.sign(c, "dpop+jwt", p.Public)
}

// Sign signs any claims with any typ and header jwk: attack tests use it.
func (p *Prover) Sign(t testing.TB, c Claims, typ string, headerKey jwk.Key) string {
	t.Helper()
	out, err := p.sign(c, typ, headerKey)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (p *Prover) sign(c Claims, typ string, headerKey jwk.Key) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, typ)
	if headerKey != nil {
		_ = h.Set(jws.JWKKey, headerKey)
	}
	out, err := jws.Sign(payload, jws.WithKey(p.Alg, p.Signer, jws.WithProtectedHeaders(h)))
	return string(out), err
}

// ATH is the ath of a token (RFC 9449 §4.2).
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// RandomJTI is a fresh jti.
func RandomJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
