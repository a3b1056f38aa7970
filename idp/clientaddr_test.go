package idp

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestClientAddr is issue 11, finding 3, at the unit level: a forwarding
// header is believed only from a trusted peer, and only up to the right-most
// entry that is not itself a trusted proxy.
func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	xff := proxies{trusted: trusted, header: HeaderXForwardedFor}
	fwd := proxies{trusted: trusted, header: HeaderForwarded}
	tests := []struct {
		name    string
		p       proxies
		remote  string
		headers map[string][]string
		want    string
	}{
		{"no proxies configured: the peer", proxies{header: HeaderXForwardedFor}, "198.51.100.7:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.7"},
		{"untrusted peer: header ignored", xff, "198.51.100.7:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.7"},
		{"trusted peer, one hop", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"client-supplied entries left of the real one are ignored", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"1.1.1.1, 2.2.2.2, 203.0.113.9"}}, "203.0.113.9"},
		{"trusted hops are skipped", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9, 10.9.9.9, 192.0.2.1"}}, "203.0.113.9"},
		{"repeated header lines are one list", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9, 10.9.9.9"}}, "203.0.113.9"},
		{"ports and brackets", xff, "[2001:db8:ffff::1]:443",
			map[string][]string{"X-Forwarded-For": {"[2001:db8:1::5]:8080"}}, "2001:db8:1::5"},
		{"IPv4-mapped peer is trusted as IPv4", xff, "[::ffff:10.1.2.3]:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"all hops trusted: the left-most", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"10.7.7.7, 10.8.8.8"}}, "10.7.7.7"},
		{"garbage from a trusted hop: that hop", xff, "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9, unknown, 10.8.8.8"}}, "10.8.8.8"},
		{"trusted peer without a header", xff, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"XFF mode ignores Forwarded", xff, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"Forwarded mode ignores X-Forwarded-For", fwd, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=203.0.113.9"}, "X-Forwarded-For": {"6.6.6.6"}}, "203.0.113.9"},
		{"Forwarded: quoted IPv6 with port, other parameters", fwd, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {`for=6.6.6.6, For="[2001:db8:1::5]:4711";proto=https;by=10.1.2.3`}}, "2001:db8:1::5"},
		{"Forwarded: a quoted comma does not split", fwd, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {`for=203.0.113.9;x="a,for=6.6.6.6"`}}, "203.0.113.9"},
		{"Forwarded: obfuscated identifier stops at the trusted hop", fwd, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=_hidden, for=10.8.8.8"}}, "10.8.8.8"},
		{"Forwarded: element without for=", fwd, "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"proto=https"}}, "10.1.2.3"},
		{"unparsable peer: unknown", xff, "@", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header(tt.headers)}
			if got := tt.p.clientAddr(r).String(); got != tt.want {
				t.Errorf("clientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, false},
		{" 10.1.2.3/8 ,192.0.2.1, ::1 ,2001:db8::/32", []string{"10.0.0.0/8", "192.0.2.1/32", "::1/128", "2001:db8::/32"}, false},
		{"::ffff:192.0.2.1", []string{"192.0.2.1/32"}, false},
		{"10.0.0.0/33", nil, true},
		{"proxy.internal", nil, true},
		{"10.0.0.0/8;rm", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var strs []string
			for _, p := range got {
				strs = append(strs, p.String())
			}
			if diff := cmp.Diff(tt.want, strs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzClientAddr: whatever the header, the answer is the peer or an entry
// of the header, and when it is an untrusted entry, every entry to its right
// is a readable trusted proxy: the right-most untrusted entry, never one the
// client could have put further left.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "1.1.1.1, 203.0.113.9, 10.0.0.2", "unknown", "[::1]:80",
		`for="[2001:db8::1]:4711";proto=https`, `for=_x, for=10.0.0.2`, `for="\"`, `for=1.2.3.4;for=5.6.7.8`, ",,,", strings.Repeat("10.0.0.1,", 50)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, header string, forwarded bool) {
		p := proxies{trusted: trusted, header: HeaderXForwardedFor}
		hops := splitList([]string{header})
		if forwarded {
			p.header = HeaderForwarded
			hops = forwardedFor([]string{header})
		}
		r := &http.Request{RemoteAddr: "10.0.0.1:1234", Header: http.Header{p.header: {header}}}
		got := p.clientAddr(r)
		if got == peer {
			return
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseHop(hops[i])
			if !ok {
				t.Fatalf("clientAddr(%q) = %s, left of an unreadable entry %q", header, got, hops[i])
			}
			if a == got {
				return
			}
			if !p.isTrusted(a) {
				t.Fatalf("clientAddr(%q) = %s, left of the untrusted entry %s", header, got, a)
			}
		}
		t.Fatalf("clientAddr(%q) = %s, which is neither the peer nor in the header", header, got)
	})
}
