package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestDatabaseOutage is scenario 3: Postgres stops under load. Grants answer
// 503 with an RFC 6749 body, Retry-After and no-store, without hanging; the
// JWKS is still served; readiness turns false; when Postgres returns,
// issuance resumes without a restart and refresh tokens from before the
// outage still work. Every token answer of the load is 200, or a shaped 503
// while the database is away: nothing else.
func TestDatabaseOutage(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	d := rotortest.New(t, cluster.URL())
	svc := d.AddClient("svc", "--scopes", "read", "--audience", audience)
	web := d.AddClient("web", "--grant-types", "password,refresh_token", "--scopes", "read", "--audience", audience)
	d.MustRunBinary("correct horse battery staple\n", "users", "add", "alice")
	r := d.Serve("rotor")
	// The outer bound of every request: six times the store's 5s call
	// timeout, so only a hang can reach it.
	client := &http.Client{Timeout: 30 * time.Second}
	login, err := rotortest.Token(client, r.URL, "web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	if err != nil || login.Status != http.StatusOK {
		t.Fatalf("login: %v %+v", err, login)
	}

	var c counters
	var outage atomic.Bool // from just before the stop until issuance is back
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				during := outage.Load()
				tr, err := rotortest.Token(client, r.URL, "svc", svc, url.Values{"grant_type": {"client_credentials"}})
				c.add(tokenClass(tr, err, during || outage.Load()))
			}
		})
	}
	proctest.Await(t, 30*time.Second, "load to get tokens", func() bool { return c.get("token ok") > 20 })

	outage.Store(true)
	cluster.Stop()
	// Answers while the database is down: 503, shaped per RFC 6749. The
	// refresh grant always needs the database (and must not spend the token
	// when it cannot reach it).
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}}.Encode()
	for i := range 5 {
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/oauth2/token", strings.NewReader(refresh))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", web)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d with the database down: %v (a hang ends at the client's %v)", i, err, client.Timeout)
		}
		var body struct {
			Error string `json:"error"`
		}
		decodeJSON(t, resp, &body)
		if resp.StatusCode != http.StatusServiceUnavailable || body.Error != "temporarily_unavailable" ||
			resp.Header.Get("Retry-After") == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("request %d with the database down: %d %+v %v", i, resp.StatusCode, body, resp.Header)
		}
		t.Logf("request %d: 503 after %v", i, time.Since(start).Round(time.Millisecond))
	}
	// client_credentials may be answered from the replica's client cache for
	// up to its TTL (2s); after that it needs the database too.
	unavailable := c.get("token 503 during the outage")
	proctest.Await(t, 30*time.Second, "client_credentials to answer 503", func() bool { return c.get("token 503 during the outage") > unavailable })
	if status, _, _ := get(t, r.URL+"/.well-known/jwks.json"); status != http.StatusOK {
		t.Errorf("JWKS with the database down: %d", status)
	}
	if status, _, body := get(t, r.URL+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"store":"down"`) {
		t.Errorf("readyz with the database down: %d %s", status, body)
	}
	// The replica cannot reload its key ring (poll 1s): its staleness rises
	// past the poll, and 5xx answers are counted as such.
	proctest.Await(t, 30*time.Second, "key ring staleness to rise past 3s", func() bool {
		return r.Metrics(t).Sum("rotor_key_ring_staleness_seconds") > 3
	})
	if m := r.Metrics(t); m.Sum("rotor_http_request_duration_seconds", "route", "/oauth2/token", "status_class", "5xx") == 0 ||
		m.Sum("rotor_token_errors_total", "error", "temporarily_unavailable") == 0 || m.Sum("rotor_store_errors_total") == 0 {
		t.Error("the outage's 503s and store errors are not in the metrics")
	}

	cluster.Start()
	okBefore := c.get("token ok")
	proctest.Await(t, 30*time.Second, "issuance to resume", func() bool { return c.get("token ok") > okBefore+20 })
	proctest.WaitReady(t, r.URL+"/readyz", 30*time.Second)
	proctest.Await(t, 30*time.Second, "key ring staleness to fall back under 3s", func() bool {
		return r.Metrics(t).Sum("rotor_key_ring_staleness_seconds") < 3
	})
	outage.Store(false)
	// And it stays back: a 503 from here on is a failure.
	okAfter := c.get("token ok")
	proctest.Await(t, 30*time.Second, "more tokens after the outage", func() bool { return c.get("token ok") > okAfter+20 })
	close(stop)
	wg.Wait()
	t.Logf("load: %s", c.String())
	requireOnly(t, &c, "token ok", "token 503 during the outage")
	if tr, err := rotortest.Token(client, r.URL, "web", web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}}); err != nil || tr.Status != http.StatusOK {
		t.Fatalf("refresh token from before the outage: %v %+v", err, tr)
	}
	if strings.Contains(r.Output(), "rotor stopped") {
		t.Fatal("rotor restarted")
	}
}

// TestConcurrentPasswordLogins is scenario 4: 200 logins at once with the
// production argon2id parameters. Peak memory stays bounded, the excess is
// told to come back, nothing crashes.
func TestConcurrentPasswordLogins(t *testing.T) {
	d := rotortest.New(t, pgtest.NewDatabase(t))
	delete(d.Env, "ROTOR_ARGON2_MEMORY") // the OWASP default: 19 MiB per hash
	delete(d.Env, "ROTOR_ARGON2_ITERATIONS")
	d.Env["ROTOR_HASH_CONCURRENCY"] = "2"
	web := d.AddClient("web", "--grant-types", "password", "--scopes", "read", "--audience", audience)
	d.MustRunBinary("correct horse battery staple\n", "users", "add", "alice")
	r := d.Serve("rotor")

	const logins = 200
	var c counters
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxConnsPerHost: logins, MaxIdleConnsPerHost: logins}}
	for range logins {
		wg.Go(func() {
			<-start
			tr, err := rotortest.Token(client, r.URL, "web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
			class := statusClass("login", tr.Status, err)
			if (tr.Status == http.StatusServiceUnavailable || tr.Status == http.StatusTooManyRequests) && tr.RetryAfter == "" {
				class += " without Retry-After"
			}
			c.add(class)
		})
	}
	close(start)
	wg.Wait()
	t.Logf("answers: %s", c.String())
	if ok, busy := c.get("login ok"), c.get("login 503")+c.get("login too many requests"); ok+busy != logins || ok == 0 {
		t.Errorf("want every login to succeed or get 503 with Retry-After: %s", c.String())
	}
	peak := peakRSS(t, r.Pid())
	t.Logf("peak RSS of rotor serve: %d MiB", peak>>20)
	const bound = 256 << 20 // documented in README (Security behaviour) and BENCHMARKS.md
	if peak > bound {
		t.Errorf("peak RSS %d MiB exceeds the %d MiB bound", peak>>20, bound>>20)
	}
	if status, _, _ := get(t, r.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("healthz after the storm: %d", status)
	}
}

// peakRSS reads a process's high-water resident set size.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestKillReplicaDuringRefreshStorm is scenario 5: a replica is killed with
// SIGKILL while clients refresh through it. Afterwards every client carries on
// from the last refresh token it was given (retrying the request that died,
// within the reuse interval), no family is revoked, and no family has more
// than one live token. The kill must have cut off a refresh that the
// database committed but no client heard of, or the reuse interval was
// never needed: the storm is repeated, with a fresh victim, until it has.
func TestKillReplicaDuringRefreshStorm(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	d := rotortest.New(t, dbURL)
	d.Env["ROTOR_REFRESH_REUSE_INTERVAL"] = "30s"
	web := d.AddClient("web", "--grant-types", "password,refresh_token", "--scopes", "read", "--audience", audience)
	d.MustRunBinary("correct horse battery staple\n", "users", "add", "alice")
	survivor := d.Serve("survivor")
	client := &http.Client{Timeout: 30 * time.Second}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	const families = 16
	holders := make([]*stormHolder, families)
	for i := range holders {
		tr, err := rotortest.Token(client, survivor.URL, "web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
		if err != nil || tr.Status != http.StatusOK {
			t.Fatalf("login: %v %+v", err, tr)
		}
		holders[i] = &stormHolder{token: tr.RefreshToken}
	}

	const rounds = 10
	lost := 0
	for round := 0; lost == 0; round++ {
		if round == rounds {
			t.Fatalf("in %d storms no kill cut off a refresh the database had committed: the reuse interval was never needed", rounds)
		}
		victim := d.Serve(fmt.Sprint("victim-", round))
		cut := storm(t, client, victim, web, holders)
		// A holder whose last answered token is spent had its refresh
		// committed by the victim, and the answer died with it.
		for _, h := range holders {
			var spent bool
			err := conn.QueryRow(context.Background(), `SELECT spent_at IS NOT NULL FROM refresh_tokens WHERE hash = $1`, refreshKey(t, h.token)).Scan(&spent)
			if err != nil {
				t.Fatal(err)
			}
			if h.lost = spent; spent {
				lost++
			}
		}
		t.Logf("storm %d: %d requests cut off, %d committed refreshes never answered", round, cut, lost)
		if cut == 0 {
			t.Fatal("the kill cut off no request")
		}
	}

	// Every client retries its last token on the survivor: if the killed
	// replica committed the refresh but never answered, the reuse interval
	// lets the retry through and replaces the lost token.
	for i, h := range holders {
		tr, err := rotortest.Token(client, survivor.URL, "web", web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {h.token}})
		if err != nil || tr.Status != http.StatusOK {
			t.Fatalf("family %d (answer lost: %v): the last token answered with 200 no longer refreshes: %v %+v", i, h.lost, err, tr)
		}
		h.token = tr.RefreshToken
	}

	var revoked int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM refresh_families WHERE revoked_at IS NOT NULL`).Scan(&revoked); err != nil {
		t.Fatal(err)
	}
	if revoked != 0 {
		t.Errorf("%d families revoked", revoked)
	}
	rows, err := conn.Query(context.Background(), `SELECT encode(hash, 'hex') FROM refresh_tokens WHERE spent_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, h := range holders {
		want[hex.EncodeToString(refreshKey(t, h.token))] = true
	}
	if len(live) != families {
		t.Errorf("%d live refresh tokens for %d families", len(live), families)
	}
	for _, l := range live {
		if !want[l] {
			t.Errorf("live token %s… is not the one its client holds", l[:8])
		}
	}
}

// stormHolder is one client of the refresh storm.
type stormHolder struct {
	token string // the last refresh token answered with 200
	lost  bool   // its refresh at the kill was committed but not answered
}

// storm refreshes every holder's family through victim until it has
// answered a few hundred refreshes, kills it, and returns how many requests
// the kill cut off.
func storm(t *testing.T, client *http.Client, victim *rotortest.Replica, secret string, holders []*stormHolder) int {
	t.Helper()
	var c counters
	var wg sync.WaitGroup
	for _, h := range holders {
		wg.Go(func() {
			for {
				tr, err := rotortest.Token(client, victim.URL, "web", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {h.token}})
				if err != nil {
					c.add("cut off by the kill")
					return
				}
				if tr.Status != http.StatusOK {
					c.add("refused before the kill")
					t.Errorf("refresh before the kill: %+v", tr)
					return
				}
				h.token = tr.RefreshToken
				c.add("ok")
			}
		})
	}
	proctest.Await(t, 30*time.Second, "a refresh storm", func() bool { return c.get("ok") > 200 })
	victim.Kill()
	wg.Wait()
	return c.get("cut off by the kill")
}

// TestEmergencyRevoke is scenario 6: after `rotor keys revoke`, tokens
// signed by the key are refused by the example API within the JWKS max-age
// (plus the API's refresh), and new tokens verify.
func TestEmergencyRevoke(t *testing.T) {
	d := newDeployment(t, pgtest.NewDatabase(t), 1)
	client := &http.Client{Timeout: 10 * time.Second}
	old := d.replicas[0].ClientCredentials(t, "svc-ed", d.secrets["svc-ed"])
	if status, err := d.api.schedules(client, old); err != nil || status != http.StatusOK {
		t.Fatalf("before revocation: %d %v", status, err)
	}
	kid := rotortest.KID(t, old)
	d.MustRunBinary("", "keys", "revoke", "--", kid)
	revokedAt := time.Now()
	// Within max-age 1s, the replica's 1s poll and the API's refresh. The
	// bound only has to be far below the next schedule the API could be on
	// (its MaxRefresh, 15 minutes): a loaded machine may take longer than
	// the sum, but only a refresh driven by the max-age meets it.
	proctest.Await(t, 30*time.Second, "the example API to refuse the revoked key's token", func() bool {
		status, err := d.api.schedules(client, old)
		return err == nil && status == http.StatusUnauthorized
	})
	t.Logf("revoked key refused after %v (JWKS max-age 1s)", time.Since(revokedAt).Round(10*time.Millisecond))
	fresh := d.replicas[0].ClientCredentials(t, "svc-ed", d.secrets["svc-ed"])
	if rotortest.KID(t, fresh) == kid {
		t.Fatal("a new token is signed with the revoked key")
	}
	if status, err := d.api.schedules(client, fresh); err != nil || status != http.StatusOK {
		t.Fatalf("new token after revocation: %d %v", status, err)
	}
}
