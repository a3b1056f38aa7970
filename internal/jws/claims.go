package jws

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Claims are the registered claims of an access token (RFC 9068 §2.2, RFC
// 7519 §4.1) as the token states them; Verify checks none of their values.
// A claim that is absent or null is left zero. The strings share memory with
// the decoded claims set they came from.
type Claims struct {
	Issuer    string // iss
	Subject   string // sub
	Audience  []string
	ExpiresAt NumericDate // exp
	IssuedAt  NumericDate // iat
	NotBefore NumericDate // nbf
	JWTID     string      // jti
	ClientID  string      // client_id (RFC 9068 §2.2)
	Scope     string      // scope, space-delimited (RFC 9068 §2.2.3)
	// Scp is the scp claim some issuers send instead of scope: a string or
	// an array of strings, like aud.
	Scp []string
	// CnfJKT is cnf.jkt, the thumbprint of the DPoP key a sender-constrained
	// token is bound to (RFC 9449 §6.1); "" for a bearer token.
	CnfJKT string
	// CnfOther reports a cnf claim that confirms anything other than, or
	// besides, a jkt (mTLS x5t#S256, a jwk, ...): a verifier that does not
	// implement it must refuse the token rather than treat it as bearer.
	CnfOther bool
}

// NumericDate is an RFC 7519 §2 NumericDate: seconds since the epoch, which
// may carry a fraction.
type NumericDate struct {
	Time time.Time
	Set  bool
}

// maxNumericDate is the end of year 9999; later dates are rejected rather
// than overflowing.
const maxNumericDate = 253402300799

// parseClaims decodes a claims set strictly (see walkObject), matching names
// exactly. Registered claims must have their registered types: strings, a
// NumericDate, and for aud and scp a string or an array of strings. The
// strings it returns alias payload, which must never be written again.
func parseClaims(payload []byte) (Claims, error) {
	var c Claims
	// payload is never written again, so it can back the strings without
	// a copy (as strings.Builder does).
	d := decoder{payload, unsafe.String(unsafe.SliceData(payload), len(payload))}
	ok := walkObject(payload, func(name, v span) bool {
		switch string(payload[name.start:name.end]) {
		case "iss":
			return d.str(v, &c.Issuer)
		case "sub":
			return d.str(v, &c.Subject)
		case "jti":
			return d.str(v, &c.JWTID)
		case "client_id":
			return d.str(v, &c.ClientID)
		case "scope":
			return d.str(v, &c.Scope)
		case "aud":
			return d.list(v, &c.Audience)
		case "scp":
			return d.list(v, &c.Scp)
		case "exp":
			return d.date(v, &c.ExpiresAt)
		case "iat":
			return d.date(v, &c.IssuedAt)
		case "nbf":
			return d.date(v, &c.NotBefore)
		case "cnf":
			return d.cnf(v, &c)
		}
		return true
	})
	if !ok {
		return Claims{}, ErrClaims
	}
	return c, nil
}

// decoder reads values the scanner has already checked: b and s are the same
// bytes, s for substrings, b for the scanner.
type decoder struct {
	b []byte
	s string
}

// str sets *dst to the string at v, or leaves it empty for null.
func (d decoder) str(v span, dst *string) bool {
	switch d.b[v.start] {
	case 'n':
		return true
	case '"':
		*dst = d.unquote(v)
		return true
	}
	return false
}

// unquote decodes a string literal the scanner accepted. Without escapes,
// the norm, it is a substring; escapes go through encoding/json.
func (d decoder) unquote(v span) string {
	body := d.s[v.start+1 : v.end-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body
	}
	var s string
	_ = json.Unmarshal(d.b[v.start:v.end], &s) // cannot fail: the scanner checked it
	return s
}

// list sets *dst from a string, an array of strings, or null (RFC 7519
// §4.1.3).
func (d decoder) list(v span, dst *[]string) bool {
	switch d.b[v.start] {
	case 'n':
		return true
	case '"':
		*dst = []string{d.unquote(v)}
		return true
	case '[':
	default:
		return false
	}
	n, ok := d.elements(v, nil)
	if !ok {
		return false
	}
	list := make([]string, n)
	d.elements(v, list)
	*dst = list
	return true
}

// elements counts the elements of the array at v, all of which must be
// strings, and stores them in list if it is not nil.
func (d decoder) elements(v span, list []string) (int, bool) {
	n := 0
	for i := skipSpace(d.b, v.start+1); d.b[i] != ']'; n++ {
		if d.b[i] != '"' {
			return 0, false
		}
		end, _, _ := scanString(d.b, i)
		if list != nil {
			list[n] = d.unquote(span{i, end})
		}
		if i = skipSpace(d.b, end); d.b[i] == ',' {
			i = skipSpace(d.b, i+1)
		}
	}
	return n, true
}

// cnf reads the confirmation claim (RFC 7800 §3.1): an object, or null.
func (d decoder) cnf(v span, c *Claims) bool {
	switch d.b[v.start] {
	case 'n':
		return true
	case '{':
	default:
		return false
	}
	sub := decoder{d.b[v.start:v.end], d.s[v.start:v.end]}
	return walkObject(sub.b, func(name, val span) bool {
		if string(sub.b[name.start:name.end]) == "jkt" {
			return sub.str(val, &c.CnfJKT) && c.CnfJKT != ""
		}
		c.CnfOther = true
		return true
	})
}

// date sets *nd from the number at v, or leaves it unset for null.
func (d decoder) date(v span, nd *NumericDate) bool {
	lit := d.b[v.start:v.end]
	switch c := lit[0]; {
	case c == 'n':
		return true
	case c != '-' && (c < '0' || c > '9'):
		return false
	}
	// Whole seconds, the norm, without strconv; the scanner checked the
	// syntax, so digits only means a plain non-negative integer.
	if len(lit) <= 12 {
		sec, whole := int64(0), true
		for _, c := range lit {
			if c < '0' || c > '9' {
				whole = false
				break
			}
			sec = sec*10 + int64(c-'0')
		}
		if whole {
			if sec > maxNumericDate {
				return false
			}
			*nd = NumericDate{time.Unix(sec, 0), true}
			return true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return false
	}
	sec, frac := math.Modf(f)
	*nd = NumericDate{time.Unix(int64(sec), int64(frac*1e9)), true}
	return true
}
