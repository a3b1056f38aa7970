package idp

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMatchRedirectURI(t *testing.T) {
	const web = "https://app.example.com/cb"
	tests := []struct {
		name       string
		registered []string
		requested  string
		want       bool
	}{
		{"exact", []string{web}, web, true},
		{"second of several", []string{"https://other.example.com/x", web}, web, true},
		{"with registered query", []string{"https://app.example.com/cb?tenant=a"}, "https://app.example.com/cb?tenant=a", true},
		{"nothing registered", nil, web, false},
		{"empty request", []string{web}, "", false},

		// RFC 9700 §4.1.3: exact string matching, nothing else.
		{"prefix", []string{web}, "https://app.example.com/c", false},
		{"suffix on path", []string{web}, "https://app.example.com/cb/evil", false},
		{"suffix on host", []string{web}, "https://app.example.com.evil.com/cb", false},
		{"registered is a prefix of host", []string{"https://app.example.com"}, "https://app.example.com.evil.com", false},
		{"subdomain", []string{web}, "https://evil.app.example.com/cb", false},
		{"path traversal", []string{web}, "https://app.example.com/cb/../evil", false},
		{"dot segment", []string{web}, "https://app.example.com/./cb", false},
		{"encoded traversal", []string{web}, "https://app.example.com/cb/%2e%2e/evil", false},
		{"encoded traversal upper case", []string{web}, "https://app.example.com/cb/%2E%2E/evil", false},
		{"encoded slash", []string{web}, "https://app.example.com%2fcb", false},
		{"percent-encoded path", []string{web}, "https://app.example.com/%63b", false},
		{"different port", []string{web}, "https://app.example.com:8443/cb", false},
		{"default port spelled out", []string{web}, "https://app.example.com:443/cb", false},
		{"port on registered non-loopback", []string{"https://app.example.com:8443/cb"}, "https://app.example.com:9443/cb", false},
		{"userinfo", []string{web}, "https://app.example.com@evil.com/cb", false},
		{"userinfo before registered host", []string{web}, "https://evil.com@app.example.com/cb", false},
		{"fragment", []string{web}, web + "#x", false},
		{"empty fragment", []string{web}, web + "#", false},
		{"scheme case", []string{web}, "HTTPS://app.example.com/cb", false},
		{"host case", []string{web}, "https://APP.example.com/cb", false},
		{"path case", []string{web}, "https://app.example.com/CB", false},
		{"trailing slash added", []string{web}, web + "/", false},
		{"trailing slash removed", []string{"https://app.example.com/cb/"}, web, false},
		{"query added", []string{web}, web + "?x=1", false},
		{"empty query added", []string{web}, web + "?", false},
		{"query changed", []string{"https://app.example.com/cb?tenant=a"}, "https://app.example.com/cb?tenant=b", false},
		{"query removed", []string{"https://app.example.com/cb?tenant=a"}, web, false},
		{"http downgrade", []string{web}, "http://app.example.com/cb", false},
		{"trailing dot host", []string{web}, "https://app.example.com./cb", false},
		{"space", []string{web}, web + " ", false},
		{"backslash", []string{web}, "https://app.example.com\\cb", false},

		// RFC 8252 §7.3: loopback IP literals match any port.
		{"loopback v4 other port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:51234/cb", true},
		{"loopback v4 registered port, other port", []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1:51234/cb", true},
		{"loopback v4 port dropped", []string{"http://127.0.0.1:8080/cb"}, "http://127.0.0.1/cb", true},
		{"loopback v4 highest port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:65535/cb", true},
		{"loopback v6 other port", []string{"http://[::1]/cb"}, "http://[::1]:4000/cb", true},
		{"loopback no path", []string{"http://127.0.0.1"}, "http://127.0.0.1:4000", true},
		{"loopback with query", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:4000/cb?a=1", true},
		{"loopback path differs", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:4000/cb2", false},
		{"loopback query added", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:4000/cb?x", false},
		{"loopback fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:4000/cb#x", false},
		{"loopback port zero", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:0/cb", false},
		{"loopback port too large", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:65536/cb", false},
		{"loopback port leading zero", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:080/cb", false},
		{"loopback empty port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:/cb", false},
		{"loopback six-digit port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:100000/cb", false},
		{"loopback userinfo after port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:80@evil.com/cb", false},
		{"loopback userinfo before host", []string{"http://127.0.0.1/cb"}, "http://evil.com@127.0.0.1/cb", false},
		{"loopback host suffix", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1.evil.com/cb", false},
		{"loopback host suffix no path", []string{"http://127.0.0.1"}, "http://127.0.0.1.evil.com", false},
		{"loopback double port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:80:81/cb", false},
		{"loopback https", []string{"http://127.0.0.1/cb"}, "https://127.0.0.1:4000/cb", false},
		{"loopback other v4 address", []string{"http://127.0.0.1/cb"}, "http://127.0.0.2:4000/cb", false},
		{"loopback v6 zone", []string{"http://[::1]/cb"}, "http://[::1%25lo]:4000/cb", false},
		{"loopback v6 long form", []string{"http://[::1]/cb"}, "http://[0:0:0:0:0:0:0:1]:4000/cb", false},
		{"loopback v4 in v6", []string{"http://[::1]/cb"}, "http://[::ffff:127.0.0.1]:4000/cb", false},
		{"localhost is not loopback", []string{"http://127.0.0.1/cb"}, "http://localhost:4000/cb", false},
		{"loopback is not localhost", []string{"http://localhost/cb"}, "http://localhost:4000/cb", false},
		{"v4 registered, v6 requested", []string{"http://127.0.0.1/cb"}, "http://[::1]:4000/cb", false},
		{"https loopback gets no port exception", []string{"https://127.0.0.1/cb"}, "https://127.0.0.1:4000/cb", false},
		{"private-use scheme exact", []string{"com.example.app:/cb"}, "com.example.app:/cb", true},
		{"private-use scheme suffix", []string{"com.example.app:/cb"}, "com.example.app:/cb/x", false},
		{"private-use scheme other app", []string{"com.example.app:/cb"}, "com.example.app2:/cb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchRedirectURI(tt.registered, tt.requested); got != tt.want {
				t.Errorf("MatchRedirectURI(%q, %q) = %v, want %v", tt.registered, tt.requested, got, tt.want)
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		public  bool
		wantErr string // "" for valid
	}{
		{"https://app.example.com/cb", false, ""},
		{"https://app.example.com", false, ""},
		{"https://app.example.com:8443/cb?tenant=a", false, ""},
		{"https://app.example.com/a%20b", false, ""},
		{"https://[2001:db8::1]/cb", false, ""},
		{"http://127.0.0.1/cb", true, ""},
		{"http://127.0.0.1:8080/cb", false, ""},
		{"http://[::1]/cb", true, ""},
		{"com.example.app:/oauth2redirect", true, ""},

		{"", false, "1 to"},
		{"https://app.example.com/" + strings.Repeat("a", maxRedirectURILen), false, "1 to"},
		{"/cb", false, "absolute"},
		{"app.example.com/cb", false, "absolute"},
		{"mailto:a@example.com", true, "absolute"},
		{"https://app.example.com/cb#x", false, "fragment"},
		{"https://app.example.com/cb#", false, "fragment"},
		{"https://*.example.com/cb", false, "wildcards"},
		{"https://app.example.com/*", false, "wildcards"},
		{"https://user@app.example.com/cb", false, "user info"},
		{"https://user:pw@app.example.com/cb", false, "user info"},
		{"https://app.example.com/c b", false, "ASCII"},
		{"https://app.example.com/\x00", false, "ASCII"},
		{"https://app.example.com/é", false, "ASCII"},
		{"HTTPS://app.example.com/cb", false, "lower-case scheme"},
		{"https://App.example.com/cb", false, "lower-case host"},
		{"https://[fe80::1%25en0]/cb", false, "zone"},
		{"https://app.example.com/cb/../x", false, "segments"},
		{"https://app.example.com/./cb", false, "segments"},
		{"https://app.example.com/cb/%2e%2e/x", false, "segments"},
		{"https://app.example.com/cb/%2E./x", false, "segments"},
		{"https://app.example.com/cb?code=x", false, `"code"`},
		{"https://app.example.com/cb?a=1&state=x", false, `"state"`},
		{"https://app.example.com/cb?iss=x", false, `"iss"`},
		{"https://app.example.com/cb?a=%zz", false, "malformed query"},
		{"https://app.example.com:0/cb", false, "port"},
		{"https://app.example.com:0443/cb", false, "port"},
		{"https://app.example.com:/cb", false, "port"},
		{"http://127.0.0.1:/cb", false, "port"},
		{"https:///cb", false, "host"},
		{"http://app.example.com/cb", false, "https"},
		{"http://localhost/cb", true, "8252 §8.3"},
		{"http://localhost:8080/cb", true, "8252 §8.3"},
		{"http://127.0.0.2/cb", true, "https"},
		{"http://[0:0:0:0:0:0:0:1]/cb", true, "https"},
		{"com.example.app:/cb", false, "public"},
		{"myapp:/cb", true, "reverse domain"},
		{"javascript:/alert(1)", true, "reverse domain"},
		{"com.example.app://cb", true, "one slash"},
		{"com.example.app:cb", true, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := checkRedirectURI(tt.uri, tt.public)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkRedirectURI(%q) = %v, want nil", tt.uri, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkRedirectURI(%q) = %v, want an error containing %q", tt.uri, err, tt.wantErr)
			}
		})
	}
}

func TestNewClientSignIn(t *testing.T) {
	base := ClientSpec{ID: "web", GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}, Audiences: []string{"https://api"},
		RedirectURIs: []string{"https://app.example.com/cb"}}
	tests := []struct {
		name    string
		edit    func(*ClientSpec)
		wantErr string
	}{
		{"web client", func(*ClientSpec) {}, ""},
		{"first-party with name and logout URIs", func(s *ClientSpec) {
			s.FirstParty, s.Name = true, "Schedules — web"
			s.PostLogoutRedirectURIs = []string{"https://app.example.com/bye"}
		}, ""},
		{"public native app", func(s *ClientSpec) {
			s.Public = true
			s.RedirectURIs = []string{"http://127.0.0.1/cb", "com.example.app:/cb"}
		}, ""},
		{"no redirect URI", func(s *ClientSpec) { s.RedirectURIs = nil }, "at least one redirect URI"},
		{"redirect URI without the grant", func(s *ClientSpec) { s.GrantTypes = []string{GrantPassword} }, "for clients with the authorization_code grant"},
		{"first-party without the grant", func(s *ClientSpec) {
			s.GrantTypes, s.RedirectURIs, s.FirstParty = []string{GrantPassword}, nil, true
		}, "for clients with the authorization_code grant"},
		{"logout URI without the grant", func(s *ClientSpec) {
			s.GrantTypes, s.RedirectURIs, s.PostLogoutRedirectURIs = []string{GrantPassword}, nil, []string{"https://a/b"}
		}, "for clients with the authorization_code grant"},
		{"bad redirect URI", func(s *ClientSpec) { s.RedirectURIs = []string{"https://app.example.com/cb#x"} }, `redirect URI "https://app.example.com/cb#x": must not have a fragment`},
		{"bad logout URI", func(s *ClientSpec) { s.PostLogoutRedirectURIs = []string{"http://evil.com/"} }, "post-logout redirect URI"},
		{"private-use scheme on a confidential client", func(s *ClientSpec) { s.RedirectURIs = []string{"com.example.app:/cb"} }, "public"},
		{"too many", func(s *ClientSpec) {
			s.RedirectURIs = nil
			for i := range maxRedirectURIs + 1 {
				s.RedirectURIs = append(s.RedirectURIs, "https://app.example.com/cb"+strings.Repeat("x", i))
			}
		}, "at most"},
		{"name with a newline", func(s *ClientSpec) { s.Name = "a\nb" }, "control"},
		{"name too long", func(s *ClientSpec) { s.Name = strings.Repeat("n", maxClientNameLen+1) }, "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.edit(&spec)
			c, _, err := NewClient(spec, time.Unix(0, 0))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewClient = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			want := Client{ID: spec.ID, SecretHash: c.SecretHash, Public: spec.Public, GrantTypes: spec.GrantTypes,
				Audiences: spec.Audiences, CreatedAt: time.Unix(0, 0), Name: spec.Name, RedirectURIs: spec.RedirectURIs,
				PostLogoutRedirectURIs: spec.PostLogoutRedirectURIs, FirstParty: spec.FirstParty}
			if d := cmp.Diff(want, c, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("client (-want +got):\n%s", d)
			}
		})
	}
}

func TestClientDisplayName(t *testing.T) {
	if got := (Client{ID: "web"}).DisplayName(); got != "web" {
		t.Errorf("without a name: %q, want the ID", got)
	}
	if got := (Client{ID: "web", Name: "Schedules"}).DisplayName(); got != "Schedules" {
		t.Errorf("with a name: %q", got)
	}
}

// FuzzMatchRedirectURI checks what a match may mean: a request that matches
// a registered URI is that URI, or (loopback) that URI with another valid
// port, and is itself a URI registration would accept.
func FuzzMatchRedirectURI(f *testing.F) {
	seeds := [][2]string{
		{"https://app.example.com/cb", "https://app.example.com/cb"},
		{"https://app.example.com/cb", "https://app.example.com/cb/../x"},
		{"https://app.example.com/cb", "https://app.example.com@evil.com/cb"},
		{"https://app.example.com", "https://app.example.com.evil.com"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080@evil.com/cb"},
		{"http://127.0.0.1", "http://127.0.0.1.evil.com"},
		{"http://127.0.0.1:80/cb", "http://127.0.0.1:80:81/cb"},
		{"http://[::1]/cb", "http://[::1%25lo]:1/cb"},
		{"http://[::1]:4000/cb?a=1", "http://[::1]/cb?a=1"},
		{"com.example.app:/cb", "com.example.app:/cb#x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if checkRedirectURI(registered, true) != nil || !MatchRedirectURI([]string{registered}, requested) || registered == requested {
			return
		}
		if err := checkRedirectURI(requested, true); err != nil {
			t.Fatalf("%q matched %q but would not register: %v", requested, registered, err)
		}
		reg, _ := url.Parse(registered)
		req, err := url.Parse(requested)
		if err != nil {
			t.Fatalf("%q matched %q but does not parse: %v", requested, registered, err)
		}
		if req.Scheme != "http" || reg.Scheme != "http" || (req.Hostname() != "127.0.0.1" && req.Hostname() != "::1") {
			t.Fatalf("%q matched %q without being equal or loopback", requested, registered)
		}
		if req.Hostname() != reg.Hostname() || req.User != nil || req.Fragment != "" ||
			req.EscapedPath() != reg.EscapedPath() || req.RawQuery != reg.RawQuery || req.ForceQuery != reg.ForceQuery {
			t.Fatalf("%q matched %q but differs in more than the port", requested, registered)
		}
	})
}
