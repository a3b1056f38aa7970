package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestResourceOneTokenMethod runs the resource library's rule against the
// example API built on it and a real Rotor: a token in the Authorization
// header is accepted; the same request with a second token in the query
// gets 400 invalid_request (RFC 6750 §2, one method per request); a token
// in the query alone is not a token at all.
func TestResourceOneTokenMethod(t *testing.T) {
	d := rotortest.New(t, pgtest.NewDatabase(t))
	secret := d.AddClient("svc", "--scopes", "schedules:read", "--audience", audience)
	r := d.Serve("rotor")
	api := startExampleAPI(t, r.URL)
	token := r.ClientCredentials(t, "svc", secret)

	call := func(query string, header bool) (int, string) {
		req, err := http.NewRequest(http.MethodGet, api.url+"/schedules/20201209"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if header {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	if status, _ := call("", true); status != http.StatusOK {
		t.Fatalf("header only: %d", status)
	}
	if status, challenge := call("?access_token="+token, true); status != http.StatusBadRequest || !strings.Contains(challenge, `error="invalid_request"`) {
		t.Errorf("header and query: %d %q, want 400 invalid_request", status, challenge)
	}
	if status, challenge := call("?access_token="+token, false); status != http.StatusUnauthorized || challenge != "Bearer" {
		t.Errorf("query only: %d %q, want 401 and a bare challenge", status, challenge)
	}
}
