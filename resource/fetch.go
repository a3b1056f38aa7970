package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/httpcache"
)

// A flight is one fetch of the key set, shared by everyone who asks for a
// fetch while it runs (a hand-written singleflight).
type flight struct {
	done   chan struct{}
	err    error         // set before done is closed
	maxAge time.Duration // freshness lifetime from the response
}

// startFetch joins the running fetch or starts one. onDemand fetches (an
// unknown kid, no key set) are limited to one per floor and return nil inside
// it, so the caller fails at once. It returns nil after Close.
func (v *Verifier) startFetch(onDemand bool, now time.Time) *flight {
	v.fmu.Lock()
	defer v.fmu.Unlock()
	if v.inflight != nil {
		return v.inflight
	}
	if v.ctx.Err() != nil {
		return nil
	}
	if onDemand {
		if !v.lastOnDemand.IsZero() && now.Sub(v.lastOnDemand) < v.floor {
			v.counters.suppressed.Add(1)
			return nil
		}
		v.lastOnDemand = now
	}
	f := &flight{done: make(chan struct{})}
	v.inflight = f
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		f.maxAge, f.err = v.fetch(v.ctx)
		v.record(f)
		v.fmu.Lock()
		v.inflight = nil
		v.fmu.Unlock()
		close(f.done)
	}()
	return f
}

// Refresh fetches the key set now, or waits for the fetch already running,
// and returns its error. The background refresh makes calling it unneeded;
// it serves operators (for example on a signal) and tests.
func (v *Verifier) Refresh(ctx context.Context) error {
	f := v.startFetch(false, v.now())
	if f == nil {
		return errClosed
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshLoop refetches the key set when its max-age runs out and backs off
// after failures.
func (v *Verifier) refreshLoop(f *flight) {
	defer v.wg.Done()
	for f != nil {
		select {
		case <-v.ctx.Done():
			return
		case <-f.done:
		}
		t := time.NewTimer(v.nextDelay(f))
		select {
		case <-v.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		f = v.startFetch(false, v.now())
	}
}

// nextDelay schedules the next background fetch. After a success it is the
// response's max-age clamped to [MinRefresh, MaxRefresh], minus up to 10%
// jitter: never later, so a key Rotor pre-publishes as next is seen within
// max-age, as its propagation delay assumes. After n failures it is
// MinRefresh·2ⁿ⁻¹ capped at MaxBackoff, jittered down to half.
func (v *Verifier) nextDelay(f *flight) time.Duration {
	if f.err == nil {
		d := min(max(f.maxAge, v.minRefresh), v.maxRefresh)
		return d - time.Duration(rand.Int64N(int64(d/10)+1))
	}
	v.smu.Lock()
	n := v.failures
	v.smu.Unlock()
	d := v.maxBackoff
	if n < 30 && v.minRefresh<<(n-1) < d {
		d = v.minRefresh << (n - 1)
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// record updates the failure statistics and logs the outcome of a fetch. It
// never logs tokens, key material or response bodies.
func (v *Verifier) record(f *flight) {
	v.smu.Lock()
	prevFailures := v.failures
	if f.err == nil {
		v.failures, v.lastErr = 0, ""
	} else {
		v.counters.fetchFailures.Add(1)
		v.failures++
		v.lastErr = category(f.err)
	}
	failures := v.failures
	v.smu.Unlock()
	switch {
	case f.err != nil && errors.Is(f.err, context.Canceled) && v.ctx.Err() != nil:
		// Closing; not worth a warning.
	case f.err != nil:
		v.log.LogAttrs(context.Background(), slog.LevelWarn, "rotor key set refresh failed",
			slog.String("category", category(f.err)),
			slog.Int("consecutive_failures", failures),
			slog.String("error", f.err.Error()))
	case prevFailures > 0:
		v.log.LogAttrs(context.Background(), slog.LevelInfo, "rotor key set refresh recovered",
			slog.Int("failures", prevFailures))
	}
}

// fetchError is a fetch failure with a short category for Stats and logs.
type fetchError struct {
	category string
	err      error
}

func (e *fetchError) Error() string {
	return "resource: key set fetch: " + e.category + ": " + e.err.Error()
}
func (e *fetchError) Unwrap() error { return e.err }

func category(err error) string {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.category
	}
	return "network"
}

func fetchErr(cat string, err error) error { return &fetchError{category: cat, err: err} }

// httpErr classifies a transport error.
func httpErr(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errCrossOriginRedirect):
		return fetchErr("redirect", err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fetchErr("timeout", err)
	}
	return fetchErr("network", err)
}

// fetch gets the key set (discovering its URL first if needed) and installs
// it when it has usable keys. It returns the response's freshness lifetime.
// Only one fetch runs at a time, so it owns v.jwksURL and v.etag.
func (v *Verifier) fetch(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, v.httpTimeout)
	defer cancel()
	if v.jwksURL == "" {
		u, err := v.discover(ctx)
		if err != nil {
			return 0, err
		}
		v.jwksURL = u
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return 0, fetchErr("network", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	old := v.snap.Load()
	if old != nil && v.etag != "" {
		// RFC 9110 §13.1.2: a 304 confirms the set we hold.
		req.Header.Set("If-None-Match", v.etag)
	}
	v.fetches.Add(1)
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, httpErr(err)
	}
	defer drainClose(resp.Body)
	maxAge := httpcache.Freshness(resp.Header, v.maxRefresh)
	switch {
	case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
		v.snap.Store(&snapshot{keys: old.keys, fetched: v.now()})
		return maxAge, nil
	case resp.StatusCode != http.StatusOK:
		return 0, fetchErr("status", fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	body, err := readLimited(resp.Body)
	if err != nil {
		return 0, err
	}
	keys, skipped, err := parseKeySet(body)
	if len(skipped) > 0 {
		attrs := []any{slog.Int("usable", len(keys))}
		for reason, n := range skipped {
			attrs = append(attrs, slog.Int(reason, n))
		}
		v.log.Warn("rotor key set has unusable entries, ignored", attrs...)
	}
	switch {
	case errors.Is(err, errNoUsableKeys):
		return 0, fetchErr("no_usable_keys", err)
	case err != nil:
		return 0, fetchErr("malformed", err)
	}
	if old != nil {
		// Keep the pointers of unchanged keys so verified-token cache
		// entries survive a refresh that changes nothing about their key.
		for kid, k := range keys {
			if o := old.keys[kid]; o != nil && o.equal(k) {
				keys[kid] = o
			}
		}
	}
	if old == nil || changed(old.keys, keys) {
		v.log.Info("rotor key set updated", slog.Int("keys", len(keys)))
	}
	v.snap.Store(&snapshot{keys: keys, fetched: v.now()})
	v.etag = resp.Header.Get("ETag")
	return maxAge, nil
}

func changed(a, b map[string]*verifyKey) bool {
	if len(a) != len(b) {
		return true
	}
	for kid, k := range a {
		if b[kid] != k {
			return true
		}
	}
	return false
}

// drainClose reads a little of what is left of a body, so the connection
// can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// readLimited reads a body of at most maxDocumentSize bytes; a larger one is
// refused whole rather than truncated.
func readLimited(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxDocumentSize+1))
	if err != nil {
		return nil, httpErr(err)
	}
	if len(body) > maxDocumentSize {
		return nil, fetchErr("too_large", errors.New("body over 1 MiB"))
	}
	return body, nil
}

// metadataURL builds the RFC 8414 §3.1 metadata URL: the well-known suffix
// goes between the host and the issuer's path.
func metadataURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", err
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	u.Path, u.RawPath = "", ""
	return strings.TrimSuffix(u.String(), "/") + "/.well-known/oauth-authorization-server" + path, nil
}

// discover reads jwks_uri from Rotor's RFC 8414 metadata, refusing metadata
// whose issuer is not exactly the configured one (RFC 8414 §3.3), which stops
// one issuer's metadata from vouching for another's keys.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	mu, err := metadataURL(v.issuer)
	if err != nil {
		return "", fetchErr("discovery", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mu, nil)
	if err != nil {
		return "", fetchErr("discovery", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return "", httpErr(err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fetchErr("discovery", fmt.Errorf("metadata: HTTP %d", resp.StatusCode))
	}
	body, err := readLimited(resp.Body)
	if err != nil {
		return "", err
	}
	// A map, not a struct: member names match exactly.
	var md map[string]json.RawMessage
	if err := json.Unmarshal(body, &md); err != nil {
		return "", fetchErr("discovery", errors.New("metadata is not a JSON object"))
	}
	var issuer, jwksURI string
	if json.Unmarshal(md["issuer"], &issuer) != nil || issuer != v.issuer {
		return "", fetchErr("issuer_mismatch", errors.New("metadata issuer differs from the configured issuer"))
	}
	if json.Unmarshal(md["jwks_uri"], &jwksURI) != nil {
		return "", fetchErr("discovery", errors.New("metadata has no jwks_uri"))
	}
	if err := checkURL("metadata jwks_uri", jwksURI); err != nil {
		return "", fetchErr("discovery", err)
	}
	return jwksURI, nil
}
