package idp_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dbCPU is the CPU the Postgres server behind dbURL has used so far: its
// postmaster (found by its -p port) and every child, from /proc, at clock
// tick resolution (10 ms). Zero when it cannot tell (no /proc, another
// machine's server).
func dbCPU(b *testing.B, dbURL string) time.Duration {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0
	}
	want := []byte("\x00-p\x00" + u.Port() + "\x00")
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var postmaster string
	for _, st := range stats {
		dir := filepath.Dir(st)
		if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil && bytes.Contains(cmd, want) && bytes.Contains(cmd, []byte("postgres")) {
			postmaster = filepath.Base(dir)
			break
		}
	}
	if postmaster == "" {
		return 0
	}
	var ticks int64
	for _, st := range stats {
		raw, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
		if len(f) < 13 || (filepath.Base(filepath.Dir(st)) != postmaster && f[1] != postmaster) {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + stt
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
