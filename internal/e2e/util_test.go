package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"testing"
)

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %d response: %v", resp.StatusCode, err)
	}
}
