package idp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/dpoptest"
	"github.com/rotor-idp/rotor/resource"
)

// TestGoClientNoSecrets is the README's "no secrets anywhere" Go client:
// x/oauth2's client credentials flow over a transport that signs a
// private_key_jwt assertion and DPoP proofs with jwx, against a client that
// has no secret and must use DPoP, calling a resource server that accepts
// only DPoP-bound tokens.
func TestGoClientNoSecrets(t *testing.T) {
	e := newEnv(t)
	key := e.keyClient("worker", "ES256", func(s *idp.ClientSpec) { s.RequireDPoP = true })
	v, err := resource.New(resource.Config{Issuer: e.url, Audience: "https://api.example", RequireDPoP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	api := httptest.NewServer(v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.ClaimsFrom(r.Context())
		io.WriteString(w, c.Subject+" "+c.JKT)
	})))
	t.Cleanup(api.Close)

	tr := &dpoptest.Transport{DPoP: dpoptest.New(t, "EdDSA"), TokenURL: e.tokenURL(), ClientID: "worker", Key: key, KeyID: "k1"}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tr})
	cfg := clientcredentials.Config{ClientID: "worker", TokenURL: e.tokenURL(), AuthStyle: oauth2.AuthStyleInParams}
	client := oauth2.NewClient(ctx, cfg.TokenSource(ctx))
	client.Transport.(*oauth2.Transport).Base = tr

	for range 3 { // one token, three proofs
		resp, err := client.Get(api.URL + "/jobs")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "worker "+tr.DPoP.JKT {
			t.Fatalf("API answered %d %q", resp.StatusCode, body)
		}
	}
	// The same token without the transport's proof is refused.
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil || tok.Type() != "DPoP" {
		t.Fatalf("token %v, %v", tok, err)
	}
	req, _ := http.NewRequest("GET", api.URL+"/jobs", nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stolen token without a proof: %d, want 401", resp.StatusCode)
	}
}
