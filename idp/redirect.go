package idp

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Redirect URIs are where Rotor sends a browser with an authorization code,
// so whoever can choose one steals codes. Registration accepts only URIs
// whose meaning is plain, and a request's redirect_uri must equal a
// registered one byte for byte (RFC 9700 §4.1.3): no normalisation of case,
// percent-encoding, dot segments or trailing slashes, no wildcards, no
// prefix matching. The one exception is RFC 8252 §7.3: a native app
// listening on the loopback interface gets a port from the operating system
// at run time, so for a registered http://127.0.0.1 or http://[::1] URI the
// port may differ. localhost gets no such exception: a name can resolve
// elsewhere (RFC 8252 §8.3).
//
// Post-logout redirect URIs (OIDC RP-Initiated Logout 1.0 §3) follow the
// same rules.

// Bounds of a client's redirect URIs.
const (
	maxRedirectURIs   = 32
	maxRedirectURILen = 2048
	maxClientNameLen  = 100
)

// loopbackPrefixes are the registered URI prefixes that get the any-port
// rule: the loopback IP literals of RFC 8252 §7.3, in the only spelling
// registration accepts.
var loopbackPrefixes = []string{"http://127.0.0.1", "http://[::1]"}

// responseParams are the parameters Rotor adds to a redirect URI's query
// (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207). A registered URI that already had
// one would reach the client with two values, and a client that reads the
// first would take the registered one for Rotor's answer.
var responseParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// MatchRedirectURI reports whether requested is one of the registered
// redirect URIs: byte-for-byte equal, or, for a registered loopback http URI,
// equal but for the port (RFC 8252 §7.3). It is safe on any input.
func MatchRedirectURI(registered []string, requested string) bool {
	for _, r := range registered {
		if r == requested || loopbackMatch(r, requested) {
			return true
		}
	}
	return false
}

// loopbackMatch reports whether requested is the registered loopback URI
// with another port, or with a port where registered has none.
func loopbackMatch(registered, requested string) bool {
	for _, prefix := range loopbackPrefixes {
		regRest, ok := strings.CutPrefix(registered, prefix)
		if !ok {
			continue
		}
		reqRest, ok := strings.CutPrefix(requested, prefix)
		if !ok {
			return false
		}
		regRest, okReg := cutPort(regRest)
		reqRest, okReq := cutPort(reqRest)
		return okReg && okReq && regRest == reqRest
	}
	return false
}

// cutPort removes a leading ":port" from s, the rest of a URI after its
// host. The port must be a number from 1 to 65535 without leading zeros;
// anything else is not a port, and ok is false. Without a leading colon s
// is returned as it is.
func cutPort(s string) (rest string, ok bool) {
	if !strings.HasPrefix(s, ":") {
		return s, true
	}
	i := 1
	for i < len(s) && i <= 6 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits := s[1:i]
	if digits == "" || digits[0] == '0' || len(digits) > 5 || len(digits) == 5 && digits > "65535" {
		return s, false
	}
	return s[i:], true
}

// checkRedirectURI validates a redirect URI (or post-logout redirect URI) at
// registration. public says whether the client is public: only public
// clients, native apps, may use private-use URI schemes (RFC 8252 §7.1),
// since an app that any other app on the device could impersonate by
// claiming the same scheme cannot keep a secret either.
func checkRedirectURI(raw string, public bool) error {
	if raw == "" || len(raw) > maxRedirectURILen {
		return fmt.Errorf("must be 1 to %d characters", maxRedirectURILen)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return errors.New("must be ASCII without spaces or control characters (percent-encode the rest)")
		}
	}
	if strings.Contains(raw, "#") {
		return errors.New("must not have a fragment (RFC 6749 §3.1.2)")
	}
	if strings.Contains(raw, "*") {
		return errors.New("must not contain '*': redirect URIs match exactly, there are no wildcards (RFC 9700 §4.1.3)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URI")
	}
	if !u.IsAbs() || u.Opaque != "" {
		return errors.New("must be an absolute URI such as https://app.example.com/callback (RFC 6749 §3.1.2)")
	}
	if !strings.HasPrefix(raw, u.Scheme+":") {
		return errors.New("must have a lower-case scheme: it is matched exactly")
	}
	if u.User != nil {
		return errors.New("must not contain user info ('@' before the host)")
	}
	if strings.ToLower(u.Host) != u.Host {
		return errors.New("must have a lower-case host: it is matched exactly")
	}
	if strings.Contains(u.Host, "%") {
		return errors.New("must not have an IPv6 zone")
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if rest, ok := cutPort(":" + p); !ok || rest != "" {
			return errors.New("must have a port from 1 to 65535, without leading zeros, or none")
		}
	}
	if hasDotSegment(u.EscapedPath()) {
		return errors.New("must not have '.' or '..' path segments")
	}
	if err := checkRedirectQuery(u.RawQuery); err != nil {
		return err
	}
	return checkRedirectScheme(u, public)
}

// checkRedirectScheme allows https with a host, http on a loopback IP
// literal, and, for public clients, a private-use scheme.
func checkRedirectScheme(u *url.URL, public bool) error {
	switch u.Scheme {
	case "https":
		if u.Hostname() == "" {
			return errors.New("must name a host")
		}
		return nil
	case "http":
		switch host := u.Hostname(); {
		case host == "127.0.0.1" || host == "::1":
			return nil
		case host == "localhost":
			return errors.New("must use https, or http://127.0.0.1 or http://[::1] for a native app on this device: localhost is a name that may resolve elsewhere (RFC 8252 §8.3)")
		}
		return errors.New("must use https (http only on the loopback addresses 127.0.0.1 and [::1], RFC 8252 §7.3)")
	}
	if !public {
		return fmt.Errorf("scheme %q: a private-use scheme is for public (native) clients only (RFC 8252 §7.1); a confidential client uses https", u.Scheme)
	}
	if !strings.Contains(u.Scheme, ".") {
		return fmt.Errorf("scheme %q: a private-use scheme must be a reverse domain name, such as com.example.app (RFC 8252 §7.1)", u.Scheme)
	}
	if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
		return fmt.Errorf("must be written %s:/path, with one slash and no host (RFC 8252 §7.1)", u.Scheme)
	}
	return nil
}

// checkRedirectQuery refuses a query that is not well-formed or that holds
// one of the parameters Rotor adds.
func checkRedirectQuery(rawQuery string) error {
	if rawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return errors.New("has a malformed query")
	}
	for _, p := range responseParams {
		if q.Has(p) {
			return fmt.Errorf("must not have a %q query parameter: Rotor adds it to the response", p)
		}
	}
	return nil
}

// hasDotSegment reports whether an escaped path has a "." or ".." segment,
// in any case of percent-encoding (RFC 3986 §2.3 makes %2E a dot).
func hasDotSegment(escapedPath string) bool {
	for seg := range strings.SplitSeq(escapedPath, "/") {
		s := strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// checkSignIn validates the browser sign-in settings of a new client: a
// client with the authorization_code grant needs a redirect URI, and only
// such a client may have redirect URIs or be first-party.
func checkSignIn(spec ClientSpec) error {
	if err := checkClientName(spec.Name); err != nil {
		return fmt.Errorf("client name: %w", err)
	}
	code := slices.Contains(spec.GrantTypes, GrantAuthorizationCode)
	switch {
	case code && len(spec.RedirectURIs) == 0:
		return errors.New("the authorization_code grant needs at least one redirect URI")
	case !code && (len(spec.RedirectURIs) > 0 || len(spec.PostLogoutRedirectURIs) > 0 || spec.FirstParty):
		return errors.New("redirect URIs, post-logout redirect URIs and first-party are for clients with the authorization_code grant")
	}
	for _, list := range []struct {
		what string
		uris []string
	}{{"redirect URI", spec.RedirectURIs}, {"post-logout redirect URI", spec.PostLogoutRedirectURIs}} {
		if len(list.uris) > maxRedirectURIs {
			return fmt.Errorf("at most %d %ss", maxRedirectURIs, list.what)
		}
		for _, u := range list.uris {
			if err := checkRedirectURI(u, spec.Public); err != nil {
				return fmt.Errorf("%s %q: %w", list.what, u, err)
			}
		}
	}
	return nil
}

// checkClientName accepts "" (the pages show the ID) or a short printable
// name.
func checkClientName(name string) error {
	if len(name) > maxClientNameLen {
		return fmt.Errorf("longer than %d bytes", maxClientNameLen)
	}
	return checkText(name)
}
