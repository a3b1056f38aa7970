package idp

import (
	"slices"
	"strings"
)

// parseScope splits a scope parameter (RFC 6749 §3.3: space-delimited,
// case-sensitive tokens of %x21 / %x23-5B / %x5D-7E). Duplicates collapse.
func parseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	parts := strings.Split(s, " ")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			return nil, false // leading, trailing or double space
		}
		if !validScopeToken(p) {
			return nil, false
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, true
}

// validScopeToken reports whether tok is an RFC 6749 §3.3 scope-token.
func validScopeToken(tok string) bool {
	if tok == "" || len(tok) > 256 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// grantScope decides the scope of a grant: the requested scope if the client
// may have all of it, or everything the client may have when the request
// names none (RFC 6749 §3.3 allows a documented default).
func grantScope(requested string, allowed []string) ([]string, error) {
	want, ok := parseScope(requested)
	if !ok {
		return nil, errInvalidScope("scope is malformed")
	}
	if len(want) == 0 {
		return allowed, nil
	}
	if !subset(want, allowed) {
		return nil, errInvalidScope("requested scope is not allowed for this client")
	}
	return want, nil
}
