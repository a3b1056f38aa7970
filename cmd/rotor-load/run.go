package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-idp/rotor/internal/primitive"
)

type options struct {
	rotorBin, apiBin string
	database         string
	duration         time.Duration
	maxRequests      int
	concurrency      int
	saturation       int // connections of the saturation scenarios
	scenarios        string
	jsonOut          bool
	scale            scaleOptions
	metricsOverhead  bool // also compare rotor with and without metrics (overhead.go)
}

// Bounds: the load stays on loopback, and each scenario stops by itself.
const (
	maxDuration    = 2 * time.Minute
	maxRequestsCap = 1_000_000
)

func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return runSeed(ctx, args[1:], getenv, stdout, stderr)
	}
	o := &options{}
	self, _ := os.Executable()
	dir := filepath.Dir(self)
	fs := flag.NewFlagSet("rotor-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.rotorBin, "rotor", filepath.Join(dir, "rotor"), "rotor binary")
	fs.StringVar(&o.apiBin, "example-api", filepath.Join(dir, "example-api"), "example-api binary")
	fs.StringVar(&o.database, "database", getenv("ROTOR_LOAD_DATABASE"), "Postgres URL of an empty database (default: a throwaway Postgres from initdb)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "time per scenario (at most 2m)")
	fs.IntVar(&o.maxRequests, "requests", 50_000, "requests per scenario at most")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	fs.IntVar(&o.saturation, "saturation-conns", 16, "concurrent clients of the saturation scenarios, which measure tail latency with the server's CPUs saturated")
	fs.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenario names or prefixes (client_credentials, refresh_token, password, signin, jwks, example-api, saturation)")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON")
	fs.BoolVar(&o.scale.on, "scale", false, "scale profile: repeat "+strings.Join(scaleScenarios, ", ")+" on a fresh Postgres seeded with each --scale-tokens count (BENCHMARKS.md, Scale)")
	fs.StringVar(&o.scale.tokens, "scale-tokens", "0,100000,10000000", "stored refresh-token counts of the scale profile, comma-separated (the first is the baseline)")
	fs.IntVar(&o.scale.users, "scale-users", 1_000_000, "users seeded at every non-zero size")
	fs.IntVar(&o.scale.depth, "scale-depth", 10, "mean tokens per seeded family")
	fs.Float64Var(&o.scale.expired, "scale-expired", 0.3, "share of seeded families already expired; the last size purges them under refresh load")
	fs.StringVar(&o.scale.sharedBuffers, "scale-shared-buffers", "256MB", "Postgres shared_buffers of the scale profile")
	fs.BoolVar(&o.metricsOverhead, "metrics-overhead", false, "also run the hot paths on a second rotor without metrics and the audit log, interleaved, and report the difference")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.duration <= 0 || o.duration > maxDuration || o.maxRequests <= 0 || o.maxRequests > maxRequestsCap ||
		o.concurrency < 1 || o.concurrency > 256 || o.saturation < 1 || o.saturation > 256 {
		return fmt.Errorf("--duration must be in (0, %v], --requests in [1, %d], --concurrency and --saturation-conns in [1, 256]", maxDuration, maxRequestsCap)
	}

	if o.scale.on {
		return scaleMain(ctx, o, stdout, stderr)
	}
	d, err := startDeployment(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer d.stop()

	fmt.Fprintln(stderr, "measuring the signing primitives…")
	baselines := map[string]time.Duration{}
	for alg, n := range map[string]int{"RS256": 300, "EdDSA": 5000} {
		op, err := primitive.Sign(alg)
		if err != nil {
			return err
		}
		if baselines[alg], err = op.CPUPerOp(n); err != nil {
			return err
		}
	}

	client := o.httpClient()
	var results []result
	for _, sc := range append(scenarios(d, client, o.saturation), signinScenarios(d, client)...) {
		if !o.selected(sc.name) {
			continue
		}
		fmt.Fprintf(stderr, "running %s…\n", sc.name)
		res, err := runScenario(ctx, sc, o)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if b, ok := baselines[sc.alg]; ok && sc.signs {
			res.Baseline, res.BaselineName = b, sc.alg+" sign"
			res.Ratio = float64(res.CPUPerRequest) / float64(b)
		}
		results = append(results, res)
	}
	if !o.jsonOut {
		report(stdout, results, baselines, o)
	}
	var overhead []overheadResult
	if o.metricsOverhead {
		if overhead, err = measureOverhead(ctx, d, client, o, stdout, stderr); err != nil {
			return fmt.Errorf("metrics overhead: %w", err)
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"baselines": baselines, "results": results, "metrics_overhead": overhead})
	}
	return nil
}

func (o *options) httpClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: max(o.concurrency, o.saturation), MaxConnsPerHost: max(o.concurrency, o.saturation),
			DialContext: loopbackOnly((&net.Dialer{Timeout: 5 * time.Second}).DialContext),
		},
	}
}

func (o *options) selected(name string) bool {
	if o.scenarios == "all" {
		return true
	}
	for _, s := range strings.Split(o.scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" && strings.HasPrefix(name, s) {
			return true
		}
	}
	return false
}

// loopbackOnly refuses to dial anything but a loopback address: this command
// generates load, and load belongs on the machine that asked for it.
func loopbackOnly(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("rotor-load only talks to loopback addresses, not %s", host)
		}
		return dial(ctx, network, addr)
	}
}

// scenario is one kind of request, made by concurrent workers.
type scenario struct {
	name   string
	alg    string   // signing algorithm, for the baseline
	signs  bool     // each request signs one token
	server *process // whose CPU time is counted
	conns  int      // concurrent clients; 0: --concurrency
	// worker prepares one client's state and returns its request.
	worker func(ctx context.Context) (func(ctx context.Context) (int, error), error)
}

func scenarios(d *deployment, client *http.Client, saturation int) []scenario {
	tokenURL := d.rotor.url + "/oauth2/token"
	post := func(ctx context.Context, id string, form url.Values) (int, map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, d.secrets[id])
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return resp.StatusCode, nil, err
		}
		return resp.StatusCode, body, nil
	}
	get := func(ctx context.Context, u, bearer string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	login := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}

	// Saturation: more clients than the server has CPUs for, each sending
	// its next request as soon as it has an answer; what matters is how
	// evenly the waiting is shared out (p99 against p50).
	var out, saturated []scenario
	for _, alg := range []string{"RS256", "EdDSA"} {
		cc, web := "cc-"+alg, "web-"+alg
		clientCredentials := func(context.Context) (func(context.Context) (int, error), error) {
			form := url.Values{"grant_type": {"client_credentials"}}
			return func(ctx context.Context) (int, error) {
				status, _, err := post(ctx, cc, form)
				return status, err
			}, nil
		}
		saturated = append(saturated, scenario{name: "saturation/client_credentials/" + alg, alg: alg, signs: true,
			server: d.rotor, conns: saturation, worker: clientCredentials})
		out = append(out,
			scenario{name: "client_credentials/" + alg, alg: alg, signs: true, server: d.rotor, worker: clientCredentials},
			scenario{name: "refresh_token/" + alg, alg: alg, signs: true, server: d.rotor,
				worker: func(ctx context.Context) (func(context.Context) (int, error), error) {
					// Each worker follows its own family: log in once, then
					// refresh with the token the last answer carried.
					status, body, err := post(ctx, web, login)
					if err != nil || status != http.StatusOK {
						return nil, fmt.Errorf("login for the refresh chain: %d %v", status, err)
					}
					rt, _ := body["refresh_token"].(string)
					return func(ctx context.Context) (int, error) {
						status, body, err := post(ctx, web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
						if status == http.StatusOK {
							rt, _ = body["refresh_token"].(string)
						}
						return status, err
					}, nil
				}},
			// As many clients as the server has hashing slots: more would
			// queue, a queued login that times out counts as a failed
			// attempt, and the brute-force throttle would soon answer 429.
			scenario{name: "password/" + alg, alg: alg, signs: true, server: d.rotor, conns: runtime.GOMAXPROCS(0),
				worker: func(context.Context) (func(context.Context) (int, error), error) {
					return func(ctx context.Context) (int, error) {
						status, _, err := post(ctx, web, login)
						return status, err
					}, nil
				}},
		)
	}
	jwksURL := d.rotor.url + "/.well-known/jwks.json"
	jwks := func(context.Context) (func(context.Context) (int, error), error) {
		return func(ctx context.Context) (int, error) { return get(ctx, jwksURL, "") }, nil
	}
	// The JWKS at the same concurrency is the floor of the saturation
	// scenarios: a precomputed body, no signature, no queue of Rotor's own.
	out = append(out, saturated...)
	out = append(out,
		scenario{name: "saturation/jwks", server: d.rotor, conns: saturation, worker: jwks},
		scenario{name: "jwks", server: d.rotor, worker: jwks},
		scenario{name: "example-api/cached-token", server: d.api,
			worker: func(ctx context.Context) (func(context.Context) (int, error), error) {
				status, body, err := post(ctx, "cc-EdDSA", url.Values{"grant_type": {"client_credentials"}})
				if err != nil || status != http.StatusOK {
					return nil, fmt.Errorf("token for the example API: %d %v", status, err)
				}
				tok, _ := body["access_token"].(string)
				return func(ctx context.Context) (int, error) { return get(ctx, d.api.url+"/schedules/20201209", tok) }, nil
			}},
	)
	return out
}

// result is one scenario's figures.
type result struct {
	Name          string        `json:"name"`
	Conns         int           `json:"connections"`
	Requests      int           `json:"requests"`
	Errors        int           `json:"errors"`
	ByStatus      map[int]int   `json:"by_status"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	PerSecond     float64       `json:"per_second"`
	P50           time.Duration `json:"p50_ns"`
	P90           time.Duration `json:"p90_ns"`
	P99           time.Duration `json:"p99_ns"`
	Max           time.Duration `json:"max_ns"`
	CPUPerRequest time.Duration `json:"server_cpu_per_request_ns"`
	// DBCPUPerRequest is the database server's CPU time per request, when
	// this command started the database (the scale profile).
	DBCPUPerRequest time.Duration `json:"db_cpu_per_request_ns,omitempty"`
	Baseline        time.Duration `json:"baseline_ns,omitempty"`
	BaselineName    string        `json:"baseline,omitempty"`
	Ratio           float64       `json:"x_baseline,omitempty"`
	// latencies are the answers' latencies, sorted, for pooling runs.
	latencies []time.Duration
}

func runScenario(ctx context.Context, sc scenario, o *options) (result, error) {
	conns := o.concurrency
	if sc.conns > 0 {
		conns = sc.conns
	}
	reqs := make([]func(context.Context) (int, error), conns)
	for i := range reqs {
		var err error
		if reqs[i], err = sc.worker(ctx); err != nil {
			return result{}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	cpu0, err := sc.server.cpuTime()
	if err != nil {
		return result{}, err
	}
	var (
		issued    atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		byStatus  = map[int]int{}
		wg        sync.WaitGroup
	)
	start := time.Now()
	for _, req := range reqs {
		wg.Go(func() {
			var lat []time.Duration
			status := map[int]int{}
			for ctx.Err() == nil && issued.Add(1) <= int64(o.maxRequests) {
				t0 := time.Now()
				code, err := req(ctx)
				if err != nil && ctx.Err() != nil {
					break // cut off by the deadline: not an answer
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					code = -1 // transport error
				}
				status[code]++
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			for k, v := range status {
				byStatus[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := sc.server.cpuTime()
	if err != nil {
		return result{}, err
	}
	slices.Sort(latencies)
	res := result{Name: sc.name, Conns: conns, Requests: len(latencies), ByStatus: byStatus, Elapsed: elapsed, latencies: latencies}
	for code, n := range byStatus {
		if code != http.StatusOK {
			res.Errors += n
		}
	}
	if n := len(latencies); n > 0 {
		res.PerSecond = float64(n) / elapsed.Seconds()
		res.P50, res.P90, res.P99, res.Max = latencies[n*50/100], latencies[n*90/100], latencies[n*99/100], latencies[n-1]
		res.CPUPerRequest = (cpu1 - cpu0) / time.Duration(n)
	}
	return res, nil
}
