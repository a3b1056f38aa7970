package idp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-idp/rotor/internal/httpcache"
)

// Client keys by reference (OIDC Core §9, RFC 7591 §2 jwks_uri): a
// private_key_jwt client may publish its public keys at an https URL
// instead of registering them. Rotor fetches them under the limits the
// resource library applies to its own key set: a size cap, a timeout, https
// except on loopback, no redirect to another host, a cache lifetime from
// Cache-Control max-age within bounds, at most one fetch per client per
// kid-miss floor, and the last good set kept when a fetch fails.
const (
	maxJWKSURILen    = 2048
	jwksURIMaxBody   = 1 << 20
	jwksURITimeout   = 5 * time.Second
	jwksURIFloor     = 30 * time.Second // at most one fetch per client per floor
	jwksURIMinAge    = time.Minute      // Cache-Control max-age is clamped to [MinAge, MaxAge]
	jwksURIMaxAge    = time.Hour
	jwksURIDefault   = 5 * time.Minute // without a usable max-age
	jwksURIMaxStale  = 24 * time.Hour  // a set kept through failed fetches expires after this
	jwksURICacheSize = 1024
	jwksURIRedirects = 3
)

// CheckJWKSURI checks a client's jwks_uri: an absolute https URL, or http
// on a loopback host, with no fragment and no user information.
func CheckJWKSURI(raw string) error {
	if raw == "" || len(raw) > maxJWKSURILen {
		return errors.New("the jwks_uri must be a URL of at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("the jwks_uri must be an absolute URL with a host, no fragment and no user information")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return errors.New("the jwks_uri must use https (plain http only on a loopback host)")
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// errJWKSURI is why fetched client keys could not be used: logged as the
// reason an assertion was refused, never sent.
type errJWKSURI struct{ reason string }

func (e *errJWKSURI) Error() string { return "client jwks_uri: " + e.reason }

func jwksURIErr(format string, a ...any) error {
	return &errJWKSURI{reason: fmt.Sprintf(format, a...)}
}

// uriKeySet is the cached key set of one client at one URL.
type uriKeySet struct {
	mu       sync.Mutex
	set      []clientKey // last good set, decoded; nil before the first success
	fetched  time.Time   // of set
	expires  time.Time   // of set, from max-age
	attempt  time.Time   // last fetch started
	lastErr  error       // of the last fetch
	inflight chan struct{}
}

// clientJWKSURIs fetches and caches client key sets by client and URL.
type clientJWKSURIs struct {
	mu      sync.Mutex
	entries map[string]*uriKeySet
	client  *http.Client
	timeout atomic.Int64 // nanoseconds
}

func newClientJWKSURIs() *clientJWKSURIs {
	c := &clientJWKSURIs{}
	c.timeout.Store(int64(jwksURITimeout))
	c.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: jwksURITimeout}).DialContext,
			TLSHandshakeTimeout:   jwksURITimeout,
			ResponseHeaderTimeout: jwksURITimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		CheckRedirect: checkJWKSRedirect,
	}
	return c
}

// checkJWKSRedirect follows a redirect only to the same host, under the
// same URL rules, a few times.
func checkJWKSRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= jwksURIRedirects {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return errors.New("redirect to another host")
	}
	return CheckJWKSURI(req.URL.String())
}

func (c *clientJWKSURIs) entry(clientID, uri string) *uriKeySet {
	key := clientID + "\x00" + uri
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		return e
	}
	if c.entries == nil || len(c.entries) >= jwksURICacheSize {
		c.entries = make(map[string]*uriKeySet) // bounded: start over
	}
	e := &uriKeySet{}
	c.entries[key] = e
	return e
}

// keys returns the client's key set, fetching it when there is none, when
// it has expired, or when miss reports that it lacks the key an assertion
// names — at most once per floor, so a flood of unknown kids costs one
// fetch. Concurrent callers share a running fetch. A failed fetch keeps the
// last good set (up to jwksURIMaxStale).
func (c *clientJWKSURIs) keys(ctx context.Context, cl Client, now time.Time, miss func([]clientKey) bool) ([]clientKey, error) {
	e := c.entry(cl.ID, cl.JWKSURI)
	e.mu.Lock()
	set, wait := e.set, e.inflight
	need := set == nil || !now.Before(e.expires) || miss(set)
	if !need {
		e.mu.Unlock()
		return set, nil
	}
	if wait == nil {
		if !e.attempt.IsZero() && now.Sub(e.attempt) < jwksURIFloor {
			err := e.lastErr
			stale := set != nil && now.Sub(e.fetched) > jwksURIMaxStale
			e.mu.Unlock()
			return usable(set, stale, err)
		}
		e.attempt = now
		wait = make(chan struct{})
		e.inflight = wait
		e.mu.Unlock()
		go c.fetchInto(e, cl.JWKSURI, now, wait)
	} else {
		e.mu.Unlock()
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e.mu.Lock()
	set, err := e.set, e.lastErr
	stale := set != nil && now.Sub(e.fetched) > jwksURIMaxStale
	e.mu.Unlock()
	return usable(set, stale, err)
}

func usable(set []clientKey, stale bool, err error) ([]clientKey, error) {
	switch {
	case set == nil && err == nil:
		return nil, jwksURIErr("no key set yet")
	case set == nil:
		return nil, err
	case stale:
		return nil, jwksURIErr("key set stale past 24h: %v", err)
	}
	return set, nil
}

// fetchInto runs one fetch, detached from any request so that a cancelled
// caller does not fail it for the others, and installs the result.
func (c *clientJWKSURIs) fetchInto(e *uriKeySet, uri string, now time.Time, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.timeout.Load()))
	defer cancel()
	set, maxAge, err := c.fetch(ctx, uri)
	e.mu.Lock()
	e.lastErr = err
	if err == nil {
		e.set, e.fetched = set, now
		e.expires = now.Add(min(max(maxAge, jwksURIMinAge), jwksURIMaxAge))
	}
	e.inflight = nil
	e.mu.Unlock()
	close(done)
}

// fetch gets and checks one key set: status 200, at most 1 MiB, and every
// key a public key ParseClientJWKS accepts (a private member refuses the
// whole set).
func (c *clientJWKSURIs) fetch(ctx context.Context, uri string) ([]clientKey, time.Duration, error) {
	if err := CheckJWKSURI(uri); err != nil {
		return nil, 0, jwksURIErr("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, 0, jwksURIErr("bad request URL")
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return nil, 0, jwksURIErr("timeout after %s", time.Duration(c.timeout.Load()))
		}
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			return nil, 0, jwksURIErr("fetch failed: %v", ue.Err)
		}
		return nil, 0, jwksURIErr("fetch failed")
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, jwksURIErr("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksURIMaxBody+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, 0, jwksURIErr("timeout after %s", time.Duration(c.timeout.Load()))
	case err != nil:
		return nil, 0, jwksURIErr("reading the body failed")
	case len(body) > jwksURIMaxBody:
		return nil, 0, jwksURIErr("body over 1 MiB")
	}
	norm, err := ParseClientJWKS(body)
	if err != nil {
		return nil, 0, jwksURIErr("%v", err)
	}
	set, err := decodeClientKeys(norm)
	if err != nil {
		return nil, 0, jwksURIErr("the JWKS does not parse")
	}
	return set, httpcache.Freshness(resp.Header, jwksURIDefault), nil
}
