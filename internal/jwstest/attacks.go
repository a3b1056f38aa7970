package jwstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

// Target is the verifier under test, as the catalogue sees it.
type Target struct {
	// RS256 and EdDSA are keys the verifier trusts.
	RS256, EdDSA *Key
	// AttackerRS256 and AttackerEdDSA are keys it has never seen.
	AttackerRS256, AttackerEdDSA *Key
	// Claims returns a fresh claims set the verifier accepts, with iss,
	// aud (a string), sub, exp and iat.
	Claims func() map[string]any
}

// Claim checks that a verifier of claims applies (RFC 9068 §4, RFC 7519
// §4.1), named by Case.Claim.
const (
	WrongIssuer   = "wrong issuer"
	WrongAudience = "wrong audience"
	NoExp         = "exp missing"
	Expired       = "expired"
	NoIat         = "iat missing"
	IatInFuture   = "iat in the future"
	NotYetValid   = "nbf in the future"
	NoSub         = "sub missing"
)

// Case is one token of the catalogue.
type Case struct {
	Name  string
	Token string
	// Want is the reason the shared JWS rules reject the token for (a
	// *jws.Error). It is nil when the JWS is sound and only a claim's
	// value is wrong: then Claim names the check that fails, and a
	// verifier that leaves claims to its caller accepts the token.
	Want  error
	Claim string
	// Before says which verifier treated the token differently before the
	// two shared internal/jws; empty when neither changed its verdict.
	Before string
}

// Catalogue is the attack catalogue for one target.
type Catalogue struct {
	Cases  []Case
	canary atomic.Int64
}

// CanaryHits counts requests to the canary server that the jku and x5u
// headers point at. It must stay zero: keys come from the issuer's JWKS
// only (RFC 8725 §3.10).
func (c *Catalogue) CanaryHits() int64 { return c.canary.Load() }

// Attacks builds the catalogue for tg. Its canary server closes when t ends.
func Attacks(t testing.TB, tg Target) *Catalogue {
	t.Helper()
	cat := &Catalogue{}
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cat.canary.Add(1)
		w.Write(mustJSON(map[string]any{"keys": []any{publicJWK(tg.AttackerRS256)}}))
	}))
	t.Cleanup(canary.Close)
	b := builder{t: t, tg: tg, canary: canary.URL}
	cat.Cases = append(cat.Cases, b.algorithmCases()...)
	cat.Cases = append(cat.Cases, b.serializationCases()...)
	cat.Cases = append(cat.Cases, b.keyCases()...)
	cat.Cases = append(cat.Cases, b.headerCases()...)
	cat.Cases = append(cat.Cases, b.claimsCases()...)
	return cat
}

type builder struct {
	t      testing.TB
	tg     Target
	canary string
}

// header is the header Rotor puts on a token signed by k.
func header(k *Key) map[string]any {
	return map[string]any{"alg": k.Alg, "kid": k.KID, "typ": "at+jwt"}
}

// good is a token the target accepts.
func (b builder) good() string { return Sign(b.tg.RS256, header(b.tg.RS256), b.tg.Claims()) }

// withHeader signs the default claims with k under Rotor's header for k,
// changed by edit.
func (b builder) withHeader(k *Key, edit func(map[string]any)) string {
	h := header(k)
	edit(h)
	return Sign(k, h, b.tg.Claims())
}

// rawHeader signs the default claims under a header of Rotor's three
// members for the trusted RS256 key followed by the JSON text extra.
func (b builder) rawHeader(extra string) string {
	rs := b.tg.RS256
	return SignRaw(rs, []byte(`{"alg":"RS256","kid":"`+rs.KID+`","typ":"at+jwt"`+extra+`}`), mustJSON(b.tg.Claims()))
}

// withClaims signs with the trusted RS256 key the default claims changed
// by edit.
func (b builder) withClaims(edit func(map[string]any)) string {
	c := b.tg.Claims()
	edit(c)
	return Sign(b.tg.RS256, header(b.tg.RS256), c)
}

// rawClaims signs with the trusted RS256 key the JSON text of the default
// claims changed by edit.
func (b builder) rawClaims(edit func(c map[string]any, text []byte) []byte) string {
	c := b.tg.Claims()
	return SignRaw(b.tg.RS256, mustJSON(header(b.tg.RS256)), edit(c, mustJSON(c)))
}

// prepend puts member first in the JSON object text.
func prepend(text []byte, member string) []byte {
	return append([]byte("{"+member+","), text[1:]...)
}

func unsigned(header, payload any, sig []byte) string {
	return b64(mustJSON(header)) + "." + b64(mustJSON(payload)) + "." + b64(sig)
}

func hs256(secret []byte, header, payload any) string {
	input := b64(mustJSON(header)) + "." + b64(mustJSON(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func (b builder) algorithmCases() []Case {
	rs, ed, claims := b.tg.RS256, b.tg.EdDSA, b.tg.Claims()
	der, err := x509.MarshalPKIXPublicKey(rs.Signer.Public().(*rsa.PublicKey))
	if err != nil {
		b.t.Fatal(err)
	}
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	rsJWK := mustJSON(publicJWK(rs))
	hs := map[string]any{"alg": "HS256", "kid": rs.KID, "typ": "at+jwt"}
	return []Case{
		{Name: "alg none", Token: unsigned(map[string]any{"alg": "none", "kid": rs.KID, "typ": "at+jwt"}, claims, nil), Want: jws.ErrMalformed},
		{Name: "alg none signed", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "none" }), Want: jws.ErrAlg},
		{Name: "alg NONE", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "NONE" }), Want: jws.ErrAlg},
		{Name: "alg nOnE", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "nOnE" }), Want: jws.ErrAlg},
		{Name: "alg none without kid", Token: unsigned(map[string]any{"alg": "none", "typ": "at+jwt"}, claims, []byte("x")), Want: jws.ErrAlg},
		{Name: "HS256 with RSA public key PEM", Token: hs256(rsPEM, hs, claims), Want: jws.ErrAlg},
		{Name: "HS256 with RSA public key JWK", Token: hs256(rsJWK, hs, claims), Want: jws.ErrAlg},
		{Name: "RS256 header with Ed25519 kid", Token: Sign(ed, map[string]any{"alg": "RS256", "kid": ed.KID, "typ": "at+jwt"}, claims), Want: jws.ErrKeyMismatch},
		{Name: "EdDSA header with RSA kid", Token: Sign(rs, map[string]any{"alg": "EdDSA", "kid": rs.KID, "typ": "at+jwt"}, claims), Want: jws.ErrKeyMismatch},
		{Name: "RS256 relabelled RS512", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "RS512" }), Want: jws.ErrAlg},
		{Name: "RS256 relabelled PS256", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "PS256" }), Want: jws.ErrAlg},
		{Name: "alg rs256 lower case", Token: b.withHeader(rs, func(h map[string]any) { h["alg"] = "rs256" }), Want: jws.ErrAlg},
	}
}

func (b builder) serializationCases() []Case {
	good := b.good()
	other := b.withClaims(func(c map[string]any) { c["note"] = "another token" })
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x10
	jwsJSON := string(mustJSON(map[string]any{"protected": parts[0], "payload": parts[1], "signature": parts[2]}))
	jwsJSONGeneral := string(mustJSON(map[string]any{"payload": parts[1],
		"signatures": []any{map[string]any{"protected": parts[0], "signature": parts[2]}}}))
	rs := b.tg.RS256
	big := b.tg.Claims()
	big["pad"] = strings.Repeat("p", jws.MaxTokenSize)
	return []Case{
		{Name: "stripped signature", Token: parts[0] + "." + parts[1] + ".", Want: jws.ErrMalformed},
		{Name: "two segments", Token: parts[0] + "." + parts[1], Want: jws.ErrMalformed},
		{Name: "bit-flipped signature", Token: parts[0] + "." + parts[1] + "." + b64(sig), Want: jws.ErrSignature},
		{Name: "signature of another token", Token: parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2], Want: jws.ErrSignature},
		{Name: "JWS JSON serialization flattened", Token: jwsJSON, Want: jws.ErrMalformed},
		{Name: "JWS JSON serialization general", Token: jwsJSONGeneral, Want: jws.ErrMalformed},
		{Name: "five-segment JWE", Token: parts[0] + ".ZW5jcnlwdGVkLWtleQ.aXY." + parts[1] + ".dGFn", Want: jws.ErrMalformed},
		{Name: "padding", Token: good + "==", Want: jws.ErrMalformed},
		{Name: "line break", Token: parts[0] + ".\n" + parts[1] + "." + parts[2], Want: jws.ErrMalformed},
		{Name: "line break in the signature", Token: parts[0] + "." + parts[1] + "." + parts[2][:8] + "\n" + parts[2][8:], Want: jws.ErrMalformed,
			Before: "keys accepted it: encoding/base64 skips line breaks"},
		{Name: "carriage return in the header", Token: parts[0][:8] + "\r" + parts[0][8:] + "." + parts[1] + "." + parts[2], Want: jws.ErrMalformed},
		{Name: "leading space", Token: " " + good, Want: jws.ErrMalformed},
		{Name: "empty payload segment", Token: SignRaw(rs, mustJSON(header(rs)), nil), Want: jws.ErrMalformed,
			Before: "keys accepted it and returned an empty payload"},
		{Name: "refresh token", Token: "rtr_" + b64(make([]byte, 32)), Want: jws.ErrMalformed},
		{Name: "very large token", Token: strings.Repeat("a", 1<<20), Want: jws.ErrTooLarge},
		{Name: "signed token over 16 KiB", Token: Sign(rs, header(rs), big), Want: jws.ErrTooLarge,
			Before: "keys accepted it: its bound was 64 KiB"},
	}
}

func (b builder) keyCases() []Case {
	rs, atk := b.tg.RS256, b.tg.AttackerRS256
	x5c := selfSignedCert(b.t, atk)
	return []Case{
		{Name: "embedded jwk with attacker kid", Token: b.withHeader(atk, func(h map[string]any) { h["jwk"] = publicJWK(atk) }), Want: jws.ErrUnknownKID},
		{Name: "embedded jwk with trusted kid", Token: b.withHeader(atk, func(h map[string]any) { h["jwk"] = publicJWK(atk); h["kid"] = rs.KID }), Want: jws.ErrSignature},
		{Name: "embedded x5c with trusted kid", Token: b.withHeader(atk, func(h map[string]any) { h["x5c"] = []string{x5c}; h["kid"] = rs.KID }), Want: jws.ErrSignature},
		{Name: "embedded x5c without kid", Token: b.withHeader(atk, func(h map[string]any) { h["x5c"] = []string{x5c}; delete(h, "kid") }), Want: jws.ErrNoKID},
		{Name: "jku to canary", Token: b.withHeader(atk, func(h map[string]any) { h["jku"] = b.canary + "/jwks.json" }), Want: jws.ErrUnknownKID},
		{Name: "x5u to canary", Token: b.withHeader(atk, func(h map[string]any) { h["x5u"] = b.canary + "/cert.pem" }), Want: jws.ErrUnknownKID},
		{Name: "jku to canary with trusted kid", Token: b.withHeader(atk, func(h map[string]any) { h["jku"] = b.canary; h["kid"] = rs.KID }), Want: jws.ErrSignature},
		{Name: "Ed25519 attacker key with trusted kid", Token: b.withHeader(b.tg.AttackerEdDSA, func(h map[string]any) { h["kid"] = b.tg.EdDSA.KID }), Want: jws.ErrSignature},
		{Name: "kid path traversal", Token: b.withHeader(atk, func(h map[string]any) { h["kid"] = "../../etc/passwd" }), Want: jws.ErrUnknownKID},
		{Name: "kid quotes", Token: b.withHeader(atk, func(h map[string]any) { h["kid"] = `a"b' OR '1'='1` }), Want: jws.ErrUnknownKID},
		{Name: "kid NUL", Token: b.withHeader(atk, func(h map[string]any) { h["kid"] = rs.KID + "\x00" }), Want: jws.ErrUnknownKID},
		{Name: "kid 64 KiB", Token: b.withHeader(rs, func(h map[string]any) { h["kid"] = strings.Repeat("k", 64<<10) }), Want: jws.ErrTooLarge},
		{Name: "kid 1100 bytes", Token: b.withHeader(rs, func(h map[string]any) { h["kid"] = strings.Repeat("k", 1100) }), Want: jws.ErrHeaderTooLarge},
		{Name: "kid empty", Token: b.withHeader(rs, func(h map[string]any) { h["kid"] = "" }), Want: jws.ErrNoKID},
		{Name: "kid missing", Token: b.withHeader(rs, func(h map[string]any) { delete(h, "kid") }), Want: jws.ErrNoKID},
		{Name: "kid not a string", Token: b.withHeader(rs, func(h map[string]any) { h["kid"] = 7 }), Want: jws.ErrHeader},
	}
}

func (b builder) headerCases() []Case {
	rs := b.tg.RS256
	claims := mustJSON(b.tg.Claims())
	kid := `"kid":"` + rs.KID + `"`
	return []Case{
		{Name: "typ missing", Token: b.withHeader(rs, func(h map[string]any) { delete(h, "typ") }), Want: jws.ErrTyp},
		{Name: "typ JWT", Token: b.withHeader(rs, func(h map[string]any) { h["typ"] = "JWT" }), Want: jws.ErrTyp},
		{Name: "typ at+jwt with suffix", Token: b.withHeader(rs, func(h map[string]any) { h["typ"] = "at+jwt2" }), Want: jws.ErrTyp},
		{Name: "typ with a parameter", Token: b.withHeader(rs, func(h map[string]any) { h["typ"] = "application/at+jwt; charset=utf-8" }), Want: jws.ErrTyp},
		{Name: "typ not a string", Token: b.withHeader(rs, func(h map[string]any) { h["typ"] = []string{"at+jwt"} }), Want: jws.ErrHeader},
		{Name: "crit unknown", Token: b.withHeader(rs, func(h map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), Want: jws.ErrCrit},
		{Name: "crit empty", Token: b.withHeader(rs, func(h map[string]any) { h["crit"] = []string{} }), Want: jws.ErrCrit},
		{Name: "header not an object", Token: SignRaw(rs, []byte(`["alg"]`), claims), Want: jws.ErrHeader},
		{Name: "header not JSON", Token: SignRaw(rs, []byte(`{"alg":"RS256",`), claims), Want: jws.ErrHeader},
		{Name: "header trailing text", Token: SignRaw(rs, []byte(`{"alg":"RS256",`+kid+`,"typ":"at+jwt"}x`), claims), Want: jws.ErrHeader},
		{Name: "header duplicate alg", Token: b.rawHeader(`,"alg":"none"`), Want: jws.ErrHeader},
		{Name: "header escaped duplicate alg", Token: b.rawHeader(`,"\u0061lg":"none"`), Want: jws.ErrHeader},
		{Name: "header ALG upper case name", Token: SignRaw(rs, []byte(`{"ALG":"RS256",`+kid+`,"typ":"at+jwt"}`), claims), Want: jws.ErrAlg},
		{Name: "header duplicate alg, the last one right", Token: SignRaw(rs, []byte(`{"alg":"none",`+kid+`,"typ":"at+jwt","alg":"RS256"}`), claims), Want: jws.ErrHeader,
			Before: "keys accepted it: the last alg won"},
		{Name: "header duplicate kid, the last one right", Token: SignRaw(rs, []byte(`{"alg":"RS256","kid":"other","typ":"at+jwt",`+kid+`}`), claims), Want: jws.ErrHeader,
			Before: "keys accepted it: the last kid won"},
		{Name: "header duplicate typ, the last one right", Token: SignRaw(rs, []byte(`{"alg":"RS256",`+kid+`,"typ":"JWT","typ":"at+jwt"}`), claims), Want: jws.ErrHeader,
			Before: "keys accepted it: the last typ won"},
		{Name: "header duplicate unknown member", Token: b.rawHeader(`,"x":1,"x":2`), Want: jws.ErrHeader,
			Before: "both accepted it: only alg, kid and typ were checked for duplicates, by resource only"},
		{Name: "header escaped alg name", Token: SignRaw(rs, []byte(`{"\u0061lg":"RS256",`+kid+`,"typ":"at+jwt"}`), claims), Want: jws.ErrHeader,
			Before: "both accepted it as alg"},
		{Name: "header escaped unknown member name", Token: b.rawHeader(`,"\u0078":1`), Want: jws.ErrHeader,
			Before: "both accepted it"},
		{Name: "header invalid UTF-8 in an ignored member", Token: b.rawHeader(`,"x":"` + "\xff" + `"`), Want: jws.ErrHeader,
			Before: "both accepted it, reading U+FFFD"},
		{Name: "header over 1 KiB", Token: b.rawHeader(`,"x":"` + strings.Repeat("x", 1100) + `"`), Want: jws.ErrHeaderTooLarge,
			Before: "keys accepted it: it had no header bound"},
	}
}

func (b builder) claimsCases() []Case {
	rs := b.tg.RS256
	now := time.Now()
	h := mustJSON(header(rs))
	return []Case{
		{Name: "iss wrong", Token: b.withClaims(func(c map[string]any) { c["iss"] = "https://evil.example" }), Claim: WrongIssuer},
		{Name: "iss trailing slash", Token: b.withClaims(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), Claim: WrongIssuer},
		{Name: "iss missing", Token: b.withClaims(func(c map[string]any) { delete(c, "iss") }), Claim: WrongIssuer},
		{Name: "aud wrong", Token: b.withClaims(func(c map[string]any) { c["aud"] = "https://other.api" }), Claim: WrongAudience},
		{Name: "aud array without ours", Token: b.withClaims(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), Claim: WrongAudience},
		{Name: "aud missing", Token: b.withClaims(func(c map[string]any) { delete(c, "aud") }), Claim: WrongAudience},
		{Name: "exp missing", Token: b.withClaims(func(c map[string]any) { delete(c, "exp") }), Claim: NoExp},
		{Name: "exp past", Token: b.withClaims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), Claim: Expired},
		{Name: "iat missing", Token: b.withClaims(func(c map[string]any) { delete(c, "iat") }), Claim: NoIat},
		{Name: "iat future", Token: b.withClaims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), Claim: IatInFuture},
		{Name: "sub missing", Token: b.withClaims(func(c map[string]any) { delete(c, "sub") }), Claim: NoSub},
		{Name: "nbf future", Token: b.withClaims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), Claim: NotYetValid},
		{Name: "claims ISS upper case name", Token: b.withClaims(func(c map[string]any) { c["ISS"] = c["iss"]; delete(c, "iss") }), Claim: WrongIssuer,
			Before: "resource accepted it: encoding/json matches struct fields without regard to case"},

		{Name: "exp as string", Token: b.withClaims(func(c map[string]any) { c["exp"] = "9999999999" }), Want: jws.ErrClaims,
			Before: "keys accepted it: it did not decode the claims"},
		{Name: "exp huge", Token: b.withClaims(func(c map[string]any) { c["exp"] = 1e300 }), Want: jws.ErrClaims,
			Before: "keys accepted it: it did not decode the claims"},
		{Name: "iss not a string", Token: b.withClaims(func(c map[string]any) { c["iss"] = 5 }), Want: jws.ErrClaims,
			Before: "keys accepted it: it did not decode the claims"},
		{Name: "aud with a null element", Token: b.withClaims(func(c map[string]any) { c["aud"] = []any{"x", nil, c["aud"]} }), Want: jws.ErrClaims,
			Before: "resource accepted it, reading the null as an empty string; keys did not decode the claims"},
		{Name: "claims not JSON", Token: SignRaw(rs, h, []byte("not json")), Want: jws.ErrClaims,
			Before: "keys accepted it: it did not decode the claims"},
		{Name: "claims not an object", Token: SignRaw(rs, h, []byte(`["iss"]`)), Want: jws.ErrClaims,
			Before: "keys accepted it: it did not decode the claims"},
		{Name: "claims null", Token: SignRaw(rs, h, []byte(`null`)), Want: jws.ErrClaims,
			Before: "keys accepted it; resource rejected it for the issuer"},
		{Name: "claims duplicate iss, the last one right", Token: b.rawClaims(func(_ map[string]any, text []byte) []byte {
			return prepend(text, `"iss":"https://evil.example"`)
		}), Want: jws.ErrClaims, Before: "both accepted it: the last iss won, and keys did not decode the claims"},
		{Name: "claims duplicate unknown claim", Token: b.rawClaims(func(_ map[string]any, text []byte) []byte {
			return prepend(text, `"tenant":"a","tenant":"b"`)
		}), Want: jws.ErrClaims, Before: "both accepted it"},
		{Name: "claims escaped iss name", Token: b.rawClaims(func(c map[string]any, _ []byte) []byte {
			iss := c["iss"]
			delete(c, "iss")
			return prepend(mustJSON(c), `"\u0069ss":`+string(mustJSON(iss)))
		}), Want: jws.ErrClaims, Before: "both accepted it, resource reading it as iss"},
		{Name: "claims invalid UTF-8", Token: b.rawClaims(func(_ map[string]any, text []byte) []byte {
			return prepend(text, `"note":"`+"\xff"+`"`)
		}), Want: jws.ErrClaims, Before: "both accepted it, reading U+FFFD"},
		{Name: "signed payload segment of impossible length", Token: SignSegments(rs, b64(h), "e30AA"), Want: jws.ErrClaims,
			Before: "resource panicked (makeslice with length -1); keys rejected it"},
		{Name: "signed payload segment with trailing bits", Token: SignSegments(rs, b64(h), "e31"), Want: jws.ErrClaims},
		{Name: "claims trailing text", Token: b.rawClaims(func(_ map[string]any, text []byte) []byte {
			return append(bytes.Clone(text), " {}"...)
		}), Want: jws.ErrClaims, Before: "keys accepted it: it did not decode the claims"},
	}
}
