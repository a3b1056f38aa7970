package resource

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on hostile input, checked before any decoding (RFC 8725 §3.1 asks
// verifiers to be robust against malicious tokens). Rotor's tokens are well
// under 2 KiB.
const (
	// MaxTokenSize is the largest token Verify decodes.
	MaxTokenSize = 16 << 10
	// maxHeaderSize bounds the decoded JOSE header.
	maxHeaderSize = 1 << 10
)

// Claims are the verified claims of a Rotor access token (RFC 9068 §2.2).
//
// A Claims value is immutable from the caller's point of view: the exported
// fields are copied with the value, and the slices behind Audience and Scopes
// are only handed out as copies, so changing what Verify or ClaimsFrom
// returned never changes what the verifier has cached.
type Claims struct {
	Issuer    string    // iss, equal to Config.Issuer
	Subject   string    // sub: a stable user id, or the client id for client_credentials
	ClientID  string    // client_id
	JWTID     string    // jti
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero when absent

	audience []string
	scopes   []string
	raw      []byte // the decoded claims set, never written after decoding
}

// Audience returns a copy of the aud claim as a list.
func (c Claims) Audience() []string { return slices.Clone(c.audience) }

// Scopes returns a copy of the granted scopes: the space-delimited scope claim
// (RFC 9068 §2.2.3, RFC 6749 §3.3) followed by the entries of an scp array.
func (c Claims) Scopes() []string { return slices.Clone(c.scopes) }

// HasScope reports whether scope was granted.
func (c Claims) HasScope(scope string) bool { return slices.Contains(c.scopes, scope) }

// Decode unmarshals the whole claims set into v with encoding/json, for
// claims this type does not name. Changing v does not change c.
func (c Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// jwsParts is a compact JWS split at its two dots (RFC 7515 §7.1).
type jwsParts struct {
	header, payload, signature string
	signingInput               string // header "." payload
}

// splitCompact splits a compact JWS. It accepts only the base64url alphabet
// and exactly two dots, so JWS JSON serialization (RFC 7515 §7.2), a JWE
// (five segments, RFC 7516 §7.1), whitespace and line breaks, which Go's base64
// decoder would otherwise skip, are all rejected here.
func splitCompact(token string) (jwsParts, error) {
	dots := 0
	first, second := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c == '.' {
			dots++
			switch dots {
			case 1:
				first = i
			case 2:
				second = i
			default:
				return jwsParts{}, errMalformed
			}
			continue
		}
		if b64Table[c] == 0xFF {
			return jwsParts{}, errMalformed
		}
	}
	if dots != 2 || first == 0 || second == first+1 || second == len(token)-1 {
		return jwsParts{}, errMalformed
	}
	return jwsParts{
		header:       token[:first],
		payload:      token[first+1 : second],
		signature:    token[second+1:],
		signingInput: token[:second],
	}, nil
}

// b64Table maps the base64url alphabet (RFC 4648 §5) to its values; every
// other byte maps to 0xFF.
var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// b64DecodedLen returns the decoded length of n unpadded base64url characters,
// or -1 when no input has that length.
func b64DecodedLen(n int) int {
	if n%4 == 1 {
		return -1
	}
	return n/4*3 + n%4*6/8
}

// b64Decode decodes unpadded base64url (RFC 7515 §2) from a string into dst,
// which must hold b64DecodedLen(len(src)) bytes. It is strict: padding, any
// byte outside the alphabet and non-zero trailing bits are rejected, so one
// value has one encoding. It does not allocate.
func b64Decode(dst []byte, src string) (int, bool) {
	n := b64DecodedLen(len(src))
	if n < 0 || len(dst) < n {
		return 0, false
	}
	di := 0
	var acc uint32
	bits := 0
	for i := 0; i < len(src); i++ {
		v := b64Table[src[i]]
		if v == 0xFF {
			return 0, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst[di] = byte(acc >> bits)
			di++
			acc &= 1<<bits - 1
		}
	}
	if acc != 0 { // non-zero trailing bits: not the canonical encoding
		return 0, false
	}
	return di, true
}

// header is the part of the JOSE header (RFC 7515 §4.1) the verifier uses.
// jwk, jku, x5u, x5c and every other member are skipped unread: keys come only
// from the issuer's JWKS (RFC 8725 §3.10).
type header struct {
	alg, kid, typ                string
	hasAlg, hasKid, hasTyp, crit bool
}

// parseHeader decodes a JOSE header. It matches member names exactly (JSON
// names are case-sensitive; encoding/json's struct decoding is not) and
// rejects duplicates of the members it reads instead of taking the last one
// (RFC 7515 §4 allows either).
func parseHeader(b []byte) (header, error) {
	var h header
	if !json.Valid(b) {
		return h, errHeader
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return h, errHeader
	}
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return h, nil
	}
	for {
		// b is valid JSON, so b[i] opens a member name.
		end := skipString(b, i)
		name, ok := jsonString(b[i:end])
		if !ok {
			return h, errHeader
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past ':'
		vEnd := skipValue(b, i)
		val := b[i:vEnd]
		var dst *string
		var seen *bool
		switch name {
		case "alg":
			dst, seen = &h.alg, &h.hasAlg
		case "kid":
			dst, seen = &h.kid, &h.hasKid
		case "typ":
			dst, seen = &h.typ, &h.hasTyp
		case "crit":
			// RFC 7515 §4.1.11: a recipient must reject a JWS whose crit
			// names an extension it does not understand; the verifier
			// understands none, and an empty crit is invalid too.
			h.crit = true
		}
		if dst != nil {
			if *seen || val[0] != '"' {
				return h, errHeader
			}
			s, ok := jsonString(val)
			if !ok {
				return h, errHeader
			}
			*dst, *seen = s, true
		}
		i = skipSpace(b, vEnd)
		if b[i] == '}' {
			return h, nil
		}
		i = skipSpace(b, i+1) // past ','
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at b[i].
// b must be valid JSON.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i]. b
// must be valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonString decodes a JSON string literal, quotes included. Plain ASCII
// without escapes, the norm, is converted directly; anything else goes
// through encoding/json, so escapes and invalid UTF-8 (replaced by U+FFFD)
// decode exactly as they do for the JWKS.
func jsonString(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	var s string
	// Clone so the caller's buffer does not escape to the heap.
	if err := json.Unmarshal(bytes.Clone(lit), &s); err != nil {
		return "", false
	}
	return s, true
}

// rawClaims is the wire form of the claims. The payload is only decoded after
// its signature has been checked, so these names are the issuer's own.
type rawClaims struct {
	Iss      string      `json:"iss"`
	Sub      string      `json:"sub"`
	Aud      stringList  `json:"aud"`
	Exp      numericDate `json:"exp"`
	Iat      numericDate `json:"iat"`
	Nbf      numericDate `json:"nbf"`
	Jti      string      `json:"jti"`
	ClientID string      `json:"client_id"`
	Scope    string      `json:"scope"`
	Scp      stringList  `json:"scp"`
}

// stringList is a JSON string or array of strings: aud may be either (RFC
// 7519 §4.1.3), and so may scp from other issuers.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*l = a
	return nil
}

// numericDate is an RFC 7519 §2 NumericDate: seconds since the epoch, which
// may carry a fraction.
type numericDate struct {
	t   time.Time
	set bool
}

// maxNumericDate is the end of year 9999; later dates are rejected rather
// than overflowing.
const maxNumericDate = 253402300799

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errClaims
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	d.set = true
	return nil
}

// checkClaims applies RFC 9068 §4 and RFC 7519 §4.1 to verified claims.
func (v *Verifier) checkClaims(raw []byte, now time.Time) (Claims, error) {
	var rc rawClaims
	if err := json.Unmarshal(raw, &rc); err != nil {
		return Claims{}, errClaims
	}
	// Exact comparison, no normalisation (RFC 9068 §4 step 3, RFC 8414 §3.3).
	if rc.Iss != v.issuer {
		return Claims{}, errIssuer
	}
	if !slices.Contains(rc.Aud, v.audience) {
		return Claims{}, errAudience
	}
	if !rc.Exp.set {
		return Claims{}, errNoExp
	}
	// RFC 7519 §4.1.4: the current time must be before exp.
	if !now.Before(rc.Exp.t.Add(v.leeway)) {
		return Claims{}, errExpired
	}
	if rc.Nbf.set && now.Add(v.leeway).Before(rc.Nbf.t) {
		return Claims{}, errNotYetValid
	}
	if !rc.Iat.set {
		return Claims{}, errNoIat
	}
	if now.Add(v.leeway).Before(rc.Iat.t) {
		return Claims{}, errIatFuture
	}
	if rc.Sub == "" {
		return Claims{}, errNoSub
	}
	c := Claims{
		Issuer:    rc.Iss,
		Subject:   rc.Sub,
		ClientID:  rc.ClientID,
		JWTID:     rc.Jti,
		ExpiresAt: rc.Exp.t,
		IssuedAt:  rc.Iat.t,
		audience:  rc.Aud,
		raw:       raw,
	}
	if rc.Nbf.set {
		c.NotBefore = rc.Nbf.t
	}
	scopes := strings.Fields(rc.Scope)
	for _, s := range rc.Scp {
		// Some issuers send scp as one space-delimited string.
		scopes = append(scopes, strings.Fields(s)...)
	}
	if len(scopes) > 0 {
		c.scopes = scopes
	}
	return c, nil
}
