package idp

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeJSONBytes writes a JSON body. Every token-endpoint style response is
// marked no-store (RFC 6749 §5.1); callers that want caching (JWKS, metadata)
// set their own headers and write directly.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON marshals v and writes it with writeJSONBytes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain structs and maps are passed here; this cannot happen.
		panic("idp: marshal response: " + err.Error())
	}
	writeJSONBytes(w, status, body)
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
