package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/rotor-idp/rotor/internal/pgcluster"
)

// deployment is the Rotor this command measures: a Postgres, one rotor serve
// and one example-api, all on loopback, started and stopped by the command.
type deployment struct {
	rotorBin string
	env      []string
	rotor    *process
	api      *process
	secrets  map[string]string // client id → secret
	stopDB   func()
	cleanup  func() // removes the audit log's directory
}

const (
	audience = "https://schedules.example"
	user     = "load-user"
	password = "correct horse battery staple"
)

// clients of the load: one per grant family and algorithm.
var loadClients = []struct{ id, grants, alg string }{
	{"cc-RS256", "client_credentials", "RS256"},
	{"cc-EdDSA", "client_credentials", "EdDSA"},
	{"web-RS256", "password,refresh_token", "RS256"},
	{"web-EdDSA", "password,refresh_token", "EdDSA"},
}

func startDeployment(ctx context.Context, o *options, log io.Writer) (d *deployment, err error) {
	d = &deployment{rotorBin: o.rotorBin, secrets: map[string]string{}}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	db := o.database
	if db == "" {
		fmt.Fprintln(log, "starting a throwaway Postgres…")
		pg, err := pgcluster.NewMigrated(ctx, pgcluster.DefaultLookup(), "rotor")
		if err != nil {
			return d, fmt.Errorf("throwaway Postgres (or pass --database): %w", err)
		}
		db, d.stopDB = pg.URL("rotor"), pg.Destroy
	}
	var kek [32]byte
	_, _ = rand.Read(kek[:])
	d.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"ROTOR_DATABASE=" + db,
		"ROTOR_KEY_ENCRYPTION_KEYS=load:" + base64.StdEncoding.EncodeToString(kek[:]),
	}
	for _, c := range loadClients {
		out, err := d.cli("", "clients", "add", c.id, "--grant-types", c.grants, "--scopes", "schedules:read",
			"--audience", audience, "--token-alg", c.alg, "--json")
		if err != nil {
			return d, err
		}
		var v struct {
			Secret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			return d, fmt.Errorf("clients add printed %q", out)
		}
		d.secrets[c.id] = v.Secret
	}
	if _, err := d.cli(password+"\n", "users", "add", user); err != nil {
		return d, err
	}
	audit, cleanup, err := auditFile()
	if err != nil {
		return d, err
	}
	d.cleanup = cleanup
	if d.rotor, err = startProcess(ctx, "rotor", o.rotorBin, []string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--audit-log", audit},
		d.env, regexp.MustCompile(`msg="rotor listening" addr=(\S+)`)); err != nil {
		return d, err
	}
	if d.api, err = startProcess(ctx, "example-api", o.apiBin,
		[]string{"--issuer", d.rotor.url, "--audience", audience, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
		[]string{"PATH=" + os.Getenv("PATH")}, regexp.MustCompile(`msg="example-api listening" addr=(\S+)`)); err != nil {
		return d, err
	}
	return d, nil
}

func (d *deployment) cli(stdin string, args ...string) (string, error) {
	cmd := exec.Command(d.rotorBin, args...)
	cmd.Env = d.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("rotor %s: %v: %s", args[0], err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

func (d *deployment) stop() {
	for _, p := range []*process{d.api, d.rotor} {
		if p != nil {
			p.stop()
		}
	}
	if d.stopDB != nil {
		d.stopDB()
	}
	if d.cleanup != nil {
		d.cleanup()
	}
}

// process is a server this command started.
type process struct {
	name string
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	tail *bytes.Buffer // last output, for error messages
}

// startProcess starts bin and waits for the line that names its address.
func startProcess(ctx context.Context, name, bin string, args, env []string, ready *regexp.Regexp) (*process, error) {
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{}), tail: &bytes.Buffer{}}
	p.cmd.Env = env
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if m := ready.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			if p.tail.Len() < 64<<10 {
				p.tail.WriteString(line + "\n")
			}
		}
	}()
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	select {
	case a := <-addr:
		p.url = "http://" + a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited: %s", name, p.tail)
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not start within 60s", name)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTime is the process's user+system CPU time so far, from /proc (all
// threads; clock ticks of 10ms).
func (p *process) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// space-separated: utime and stime are the 12th and 13th after ")".
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", s)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}
