package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rotor-idp/rotor/resource"
)

// Schedule is one planned stream, as in the schedule API Rotor's users
// migrate from.
type Schedule struct {
	Key       string `json:"key"`
	VideoID   string `json:"video_id"`
	DateTime  string `json:"datetime"` // "YYYYMMDD hhmmss"
	Name      string `json:"name"`
	Title     string `json:"title"`
	CreatedBy string `json:"created_by,omitempty"` // sub of the token that created it
}

// schedules is the API's in-memory store, keyed by date (YYYYMMDD).
type schedules struct {
	mu     sync.RWMutex
	byDate map[string][]Schedule
}

func newSchedules() *schedules {
	return &schedules{byDate: map[string][]Schedule{
		"20201209": {
			{Key: "HL0503_20201209_230000", VideoID: "yEttl2nfhsQ", DateTime: "20201209 230000", Name: "Polka", Title: "Late-night stream"},
			{Key: "HL0201_20201209_200000", VideoID: "aB3dE5gH7jK", DateTime: "20201209 200000", Name: "Subaru", Title: "Evening chat"},
		},
	}}
}

func (s *schedules) on(date string) []Schedule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := append([]Schedule(nil), s.byDate[date]...)
	sort.Slice(out, func(i, j int) bool { return out[i].DateTime < out[j].DateTime })
	return out
}

func (s *schedules) add(sc Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	date := sc.DateTime[:8]
	s.byDate[date] = append(s.byDate[date], sc)
}

var (
	dateRE     = regexp.MustCompile(`^\d{8}$`)
	dateTimeRE = regexp.MustCompile(`^\d{8} \d{6}$`)
)

// newAPI is the whole HTTP surface: health without a token, schedules with
// one. Reading needs scope schedules:read, writing schedules:write.
func newAPI(v *resource.Verifier, store *schedules, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Group(func(r chi.Router) {
		r.Use(v.Authenticate)
		r.With(resource.RequireScope("schedules:read")).Get("/schedules/{date}", func(w http.ResponseWriter, r *http.Request) {
			date := chi.URLParam(r, "date")
			if !dateRE.MatchString(date) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "date must be YYYYMMDD"})
				return
			}
			if _, err := time.Parse("20060102", date); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "date must be YYYYMMDD"})
				return
			}
			list := store.on(date)
			writeJSON(w, http.StatusOK, map[string]any{"result": len(list), "schedules": list})
		})
		r.With(resource.RequireScope("schedules:write")).Post("/schedules", func(w http.ResponseWriter, r *http.Request) {
			var sc Schedule
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
					return
				}
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a schedule as JSON"})
				return
			}
			if !dateTimeRE.MatchString(sc.DateTime) || sc.Name == "" || sc.Title == "" || len(sc.Name) > 200 || len(sc.Title) > 500 || len(sc.VideoID) > 64 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "datetime (YYYYMMDD hhmmss), name and title are required"})
				return
			}
			if _, err := time.Parse("20060102 150405", sc.DateTime); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "datetime is not a valid date and time"})
				return
			}
			claims, _ := resource.ClaimsFrom(r.Context())
			sc.CreatedBy = claims.Subject
			sc.Key = sc.DateTime[:8] + "_" + sc.DateTime[9:] + "_" + claims.JWTID[:min(8, len(claims.JWTID))]
			store.add(sc)
			log.Info("schedule created", "key", sc.Key, "sub", claims.Subject, "client_id", claims.ClientID)
			writeJSON(w, http.StatusCreated, sc)
		})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			c, _ := resource.ClaimsFrom(r.Context())
			writeJSON(w, http.StatusOK, map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scope": c.Scopes(), "exp": c.ExpiresAt.Unix()})
		})
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
