package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgcluster"
	"github.com/rotor-idp/rotor/internal/seed"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// scaleOptions are the -scale profile's: one run per stored-token count,
// each on a fresh throwaway Postgres seeded with package seed.
type scaleOptions struct {
	on            bool
	tokens        string // comma-separated stored refresh-token counts
	users         int
	depth         int
	expired       float64
	sharedBuffers string
}

// Bounds of the scale profile.
const (
	maxScaleSizes  = 5
	maxScaleTokens = 20_000_000
	maxScaleUsers  = 2_000_000
)

// scaleScenarios are the scenarios the profile repeats at every size.
var scaleScenarios = []string{"client_credentials/EdDSA", "refresh_token/EdDSA", "password/EdDSA"}

func (s *scaleOptions) sizes() ([]int, error) {
	var out []int
	for _, f := range strings.Split(s.tokens, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > maxScaleTokens {
			return nil, fmt.Errorf("--scale-tokens: %q is not a count in [0, %d]", f, maxScaleTokens)
		}
		out = append(out, n)
	}
	if len(out) == 0 || len(out) > maxScaleSizes {
		return nil, fmt.Errorf("--scale-tokens: 1 to %d sizes", maxScaleSizes)
	}
	if s.users < 1 || s.users > maxScaleUsers || s.depth < 1 || s.depth > 3000 || s.expired < 0 || s.expired > 0.9 {
		return nil, fmt.Errorf("--scale-users in [1, %d], --scale-depth in [1, 3000], --scale-expired in [0, 0.9]", maxScaleUsers)
	}
	return out, nil
}

// scaleRun is one size's figures.
type scaleRun struct {
	Tokens       int           `json:"stored_tokens"`
	Seeded       seed.Stats    `json:"seeded"`
	DBBytes      int64         `json:"db_bytes"`
	TokenBytes   int64         `json:"refresh_tokens_bytes"` // table and indexes
	BytesPerUser int64         `json:"db_bytes_per_user"`
	Results      []result      `json:"results"`
	Purge        *purgeFigures `json:"purge,omitempty"`
}

// purgeFigures is the purge of the expired families under refresh load.
type purgeFigures struct {
	Families  int           `json:"families_purged"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Before    result        `json:"refresh_before"`
	During    result        `json:"refresh_during"`
	P99Change float64       `json:"p99_change"`
}

func runScale(ctx context.Context, o *options, client *http.Client, log io.Writer) ([]scaleRun, error) {
	sizes, err := o.scale.sizes()
	if err != nil {
		return nil, err
	}
	hash, err := idp.HashPassword(seed.Password, idp.DefaultArgon2)
	if err != nil {
		return nil, err
	}
	var runs []scaleRun
	for i, tokens := range sizes {
		run, err := scaleSize(ctx, o, client, log, tokens, hash, i == len(sizes)-1)
		if err != nil {
			return runs, fmt.Errorf("%d tokens: %w", tokens, err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// scaleSize starts a Postgres, seeds it with tokens refresh tokens, starts
// Rotor on it and runs the scale scenarios; on the last size with expired
// families it also purges them under refresh load.
func scaleSize(ctx context.Context, o *options, client *http.Client, log io.Writer, tokens int, hash string, last bool) (scaleRun, error) {
	run := scaleRun{Tokens: tokens}
	fmt.Fprintf(log, "scale: %d stored tokens: starting Postgres…\n", tokens)
	pg, err := pgcluster.NewMigrated(ctx, pgcluster.DefaultLookup(), "rotor")
	if err != nil {
		return run, err
	}
	defer pg.Destroy()
	if err := pg.Restart("shared_buffers=" + o.scale.sharedBuffers); err != nil {
		return run, err
	}
	url := pg.URL("rotor")
	if tokens > 0 {
		spec := seed.Spec{Users: o.scale.users, Clients: 100, Families: max(tokens/o.scale.depth, 1), Depth: o.scale.depth,
			Expired: o.scale.expired, Revoked: 0.05, Seed: 1}
		fmt.Fprintf(log, "scale: seeding %d users, %d families…\n", spec.Users, spec.Families)
		if run.Seeded, err = seed.Postgres(ctx, url, spec, hash); err != nil {
			return run, err
		}
		fmt.Fprintln(log, "scale: seeded", run.Seeded)
	}
	so := *o
	so.database = url
	d, err := startDeployment(ctx, &so, log)
	if err != nil {
		return run, err
	}
	defer d.stop()
	db := &dbProcess{pid: pg.PID()}
	if run.DBBytes, run.TokenBytes, err = databaseSize(ctx, url); err != nil {
		return run, err
	}
	if run.Seeded.Users > 0 {
		run.BytesPerUser = run.DBBytes / int64(run.Seeded.Users)
	}
	byName := map[string]scenario{}
	for _, sc := range scenarios(d, client, o.saturation) {
		byName[sc.name] = sc
	}
	for _, name := range scaleScenarios {
		fmt.Fprintf(log, "scale: running %s…\n", name)
		res, err := runMeasured(ctx, byName[name], o, db)
		if err != nil {
			return run, fmt.Errorf("%s: %w", name, err)
		}
		run.Results = append(run.Results, res)
	}
	if last && run.Seeded.Families > 0 && o.scale.expired > 0 {
		fmt.Fprintln(log, "scale: purging the expired families under refresh load…")
		if run.Purge, err = purgeUnderLoad(ctx, o, byName["refresh_token/EdDSA"], db, url); err != nil {
			return run, err
		}
	}
	return run, nil
}

// runMeasured is runScenario with the database's CPU time per request.
func runMeasured(ctx context.Context, sc scenario, o *options, db *dbProcess) (result, error) {
	before, err := db.cpuTime()
	if err != nil {
		return result{}, err
	}
	res, err := runScenario(ctx, sc, o)
	if err != nil {
		return res, err
	}
	after, err := db.cpuTime()
	if err != nil {
		return res, err
	}
	if res.Requests > 0 {
		res.DBCPUPerRequest = (after - before) / time.Duration(res.Requests)
	}
	return res, nil
}

// purgeRounds is how many times purgeUnderLoad alternates a window of
// refresh alone with one of refresh while purging: alternating spreads any
// drift of the machine over both sides.
const purgeRounds = 3

// purgeUnderLoad measures refresh alone and refresh while this process
// purges the expired families the way a replica does (PurgeRefresh, in
// batches), in alternating windows; each purge stops with its window and
// the next one goes on from the oldest families left. The windows of each
// side are pooled into one result.
func purgeUnderLoad(ctx context.Context, o *options, sc scenario, db *dbProcess, url string) (*purgeFigures, error) {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p := &purgeFigures{}
	var before, during []result
	for range purgeRounds {
		alone, err := runMeasured(ctx, sc, o, db)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			n, _ := st.PurgeRefresh(pctx, time.Now())
			p.Families += n
			p.Elapsed += time.Since(start)
		}()
		purging, err := runMeasured(ctx, sc, o, db)
		cancel()
		<-done
		if err != nil {
			return nil, err
		}
		before, during = append(before, alone), append(during, purging)
	}
	p.Before, p.During = pooled(before), pooled(during)
	if p.Before.P99 > 0 {
		p.P99Change = float64(p.During.P99)/float64(p.Before.P99) - 1
	}
	return p, nil
}

// pooled is one result from several runs of a scenario: their requests
// together, percentiles over all their latencies, CPU per request weighted
// by requests.
func pooled(rs []result) result {
	out := rs[0]
	out.ByStatus, out.latencies = map[int]int{}, nil
	out.Requests, out.Errors, out.Elapsed = 0, 0, 0
	var cpu, dbCPU time.Duration
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Elapsed += r.Elapsed
		for k, v := range r.ByStatus {
			out.ByStatus[k] += v
		}
		out.latencies = append(out.latencies, r.latencies...)
		cpu += r.CPUPerRequest * time.Duration(r.Requests)
		dbCPU += r.DBCPUPerRequest * time.Duration(r.Requests)
	}
	slices.Sort(out.latencies)
	if n := len(out.latencies); n > 0 {
		out.PerSecond = float64(n) / out.Elapsed.Seconds()
		out.P50, out.P90, out.P99, out.Max = out.latencies[n*50/100], out.latencies[n*90/100], out.latencies[n*99/100], out.latencies[n-1]
		out.CPUPerRequest, out.DBCPUPerRequest = cpu/time.Duration(n), dbCPU/time.Duration(n)
	}
	return out
}

// databaseSize is the size of the database, and of the refresh_tokens table
// with its indexes.
func databaseSize(ctx context.Context, url string) (db, tokens int64, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, `SELECT pg_database_size(current_database()), pg_total_relation_size('refresh_tokens')`).Scan(&db, &tokens)
	return db, tokens, err
}

// dbProcess is a Postgres server this command started: its CPU time is the
// postmaster's, its finished children's, and its running backends'.
type dbProcess struct{ pid int }

func (p *dbProcess) cpuTime() (time.Duration, error) {
	own, err := procCPU(p.pid, true)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.pid {
			continue
		}
		if ppid, err := procField(pid, 1); err != nil || ppid != int64(p.pid) {
			continue
		}
		if d, err := procCPU(pid, false); err == nil {
			own += d
		}
	}
	return own, nil
}

// procField is field i (0 is the state) after the command name of
// /proc/pid/stat.
func procField(pid, i int) (int64, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) <= i {
		return 0, fmt.Errorf("unexpected /proc stat: %q", s)
	}
	return strconv.ParseInt(fields[i], 10, 64)
}

// procCPU is a process's user+system time, with its reaped children's when
// children is set.
func procCPU(pid int, children bool) (time.Duration, error) {
	idx := []int{11, 12}
	if children {
		idx = append(idx, 13, 14)
	}
	var ticks int64
	for _, i := range idx {
		v, err := procField(pid, i)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / ticksPerSecond, nil
}
