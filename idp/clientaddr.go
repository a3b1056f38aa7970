package idp

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers a trusted proxy may write (Config.ForwardedHeader).
const (
	HeaderXForwardedFor = "X-Forwarded-For" // de facto; nginx, HAProxy, Envoy, cloud load balancers
	HeaderForwarded     = "Forwarded"       // RFC 7239
)

// proxies decides which address a request comes from. Only the peer's
// address is a fact; a forwarding header is believed only as far as it was
// written by proxies the operator trusts.
type proxies struct {
	trusted []netip.Prefix
	header  string // HeaderXForwardedFor or HeaderForwarded
}

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or bare
// addresses (a bare address is a /32 or /128), for --trusted-proxies.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix or an IP address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr returns the address the request came from, for throttling:
// the peer's address, or, when the peer is a trusted proxy, the right-most
// entry of the forwarding header that is not itself a trusted proxy. Entries
// further left were written by the client and prove nothing. The zero Addr
// means unknown; all such requests share one bucket.
func (p proxies) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !p.isTrusted(peer) {
		return peer
	}
	var hops []string
	switch p.header {
	case HeaderForwarded:
		hops = forwardedFor(r.Header.Values(HeaderForwarded))
	default:
		hops = splitList(r.Header.Values(HeaderXForwardedFor))
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// "unknown", an obfuscated name (RFC 7239 §6) or garbage,
			// written by the trusted hop we stand on: that hop's own
			// address is the best we know.
			return client
		}
		client = a
		if !p.isTrusted(a) {
			return a
		}
	}
	return client // every hop is trusted: the left-most is the client
}

func (p proxies) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, pr := range p.trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses http.Request.RemoteAddr ("ip:port").
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// parseHop reads one forwarding entry: an IP address, with or without a port
// ("192.0.2.1:80", "[2001:db8::1]:443"), with or without brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap(), a.Zone() == ""
		}
	}
	return netip.Addr{}, false
}

// splitList joins repeated header lines and splits the comma-separated list
// (RFC 9110 §5.3), in order.
func splitList(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, ",")...)
	}
	return out
}

// forwardedFor returns the for= value of every element of the Forwarded
// header (RFC 7239 §4), in order, unquoted; an element without for= gives
// "" so it stops the walk like any unreadable hop.
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, elem := range splitQuoted(l, ',') {
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(name, "for") {
					v = unquote(val)
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings (RFC 9110 §5.6.4).
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes the quotes and backslash escapes of a quoted-string;
// a token is returned as it is.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
