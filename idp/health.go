package idp

import (
	"context"
	"net/http"
	"time"
)

// handleHealthz is liveness: the process answers.
func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// handleReadyz is readiness: the store answers within a second and the key
// ring holds a current key in every lane. The body names the failing check,
// never the error behind it.
func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	snap := s.keys.Snapshot()
	keysOK := snap.Loaded()
	for _, alg := range s.cfg.Algs {
		if _, ok := snap.Signer(alg); !ok {
			keysOK = false
		}
	}
	storeOK := s.pinger.Ping(ctx) == nil
	if storeOK && keysOK {
		writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ready"}`))
		return
	}
	body := `{"status":"unavailable","store":` + okString(storeOK) + `,"keys":` + okString(keysOK) + `}`
	w.Header().Set("Retry-After", "1")
	writeJSONBytes(w, http.StatusServiceUnavailable, []byte(body))
}

func okString(ok bool) string {
	if ok {
		return `"ok"`
	}
	return `"down"`
}
