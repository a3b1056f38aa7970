package idp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// Header values every answer (nosniff) or every JSON answer of the token,
// revocation and introspection endpoints carries. Assigned to the header map as they are
// (net/http only reads them), which spares a slice per header per response
// on the token endpoint's hot path; nothing may modify them.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNoCache = []string{"no-cache"}
	hdrNoSniff = []string{"nosniff"}
)

// writeJSONBytes writes a JSON body. Every token-endpoint style response is
// marked no-store (RFC 6749 §5.1); callers that want caching (JWKS, metadata)
// set their own headers and write directly.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
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

// bodyPool recycles the buffers that token responses are built in; a
// response is written (copied into the connection's buffer) before its
// buffer goes back.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeAppended builds a JSON body with appendBody in a pooled buffer and
// writes it with writeJSONBytes.
func writeAppended(w http.ResponseWriter, status int, appendBody func([]byte) []byte) {
	bp := bodyPool.Get().(*[]byte)
	body := appendBody((*bp)[:0])
	writeJSONBytes(w, status, body)
	if cap(body) <= 16<<10 { // do not keep a buffer an odd response grew
		*bp = body[:0]
		bodyPool.Put(bp)
	}
}

// appendJSONString appends s as a JSON string literal, byte for byte what
// encoding/json writes: printable ASCII other than the quote, the backslash
// and the HTML characters it escapes is copied as is, and anything else goes
// through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendJSONStrings appends ss as a JSON array of strings.
func appendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}
