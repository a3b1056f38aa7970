package jws

// Error is why a token was rejected. Its text is fixed and never quotes the
// token, a claim, a kid or key material, so it can go into any log line.
// The values below are allocated once: rejecting hostile input allocates
// nothing.
type Error struct{ reason string }

func (e *Error) Error() string { return e.reason }

// Reasons Verify gives. Key lookup functions return ErrUnknownKID, or an
// error of their own, which Verify passes through.
var (
	ErrTooLarge       = &Error{"token too large"}
	ErrMalformed      = &Error{"not a compact JWS"}
	ErrHeaderTooLarge = &Error{"JOSE header too large"}
	ErrHeader         = &Error{"malformed JOSE header"}
	ErrCrit           = &Error{"unsupported crit header"}
	ErrAlg            = &Error{"algorithm not allowed"}
	ErrTyp            = &Error{"typ is not at+jwt"}
	ErrNoKID          = &Error{"kid missing"}
	ErrUnknownKID     = &Error{"unknown kid"}
	ErrKeyMismatch    = &Error{"key does not match alg"}
	ErrSignature      = &Error{"bad signature"}
	ErrClaims         = &Error{"malformed claims"}
	ErrJWK            = &Error{"not a public EC, OKP or RSA JWK"}
)
