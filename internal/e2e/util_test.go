package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

// refreshKey is the store key of a refresh token.
func refreshKey(t *testing.T, token string) []byte {
	t.Helper()
	key, ok := idp.RefreshTokenKey(token)
	if !ok {
		t.Fatalf("%q is not a refresh token", token)
	}
	return key
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %d response: %v", resp.StatusCode, err)
	}
}
