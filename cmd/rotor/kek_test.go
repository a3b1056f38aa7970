package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/rotortest"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// TestKEKHygiene: the embedded store's generated key-encryption key lives
// beside the data directory, not inside it; a key file others may read is
// refused; keys come from a file or the environment; no error quotes a key.
func TestKEKHygiene(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// open is a fresh embedded store (no signing keys yet) in its own
	// directory and the config that names it.
	open := func(t *testing.T) (*config, *sqlite.Store) {
		dir := filepath.Join(t.TempDir(), "data")
		s, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return &config{dataDir: dir}, s
	}
	writeFile := func(t *testing.T, path, content string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}

	t.Run("generated beside the data directory", func(t *testing.T) {
		c, s := open(t)
		k, err := embeddedKEKs(ctx, c, s, log)
		if err != nil || k == nil {
			t.Fatalf("embeddedKEKs: %v", err)
		}
		fi, err := os.Stat(c.dataDir + kekFileSuffix)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file beside the directory: %v %v", fi, err)
		}
		if fileExists(filepath.Join(c.dataDir, legacyKEKFile)) {
			t.Error("a key file inside the data directory")
		}
		again, err := embeddedKEKs(ctx, c, s, log)
		if err != nil || again.Primary() != k.Primary() {
			t.Fatalf("second start: %v (%v, want %v)", err, again, k)
		}
	})
	t.Run("readable by others", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
			c, s := open(t)
			entry := rotortest.NewKEK()
			c.kekFile = filepath.Join(t.TempDir(), "kek")
			writeFile(t, c.kekFile, entry+"\n", mode)
			_, err := embeddedKEKs(ctx, c, s, log)
			if err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("mode %04o: err = %v, want refused", mode, err)
			}
			c.database, c.keks = "postgres://unused", ""
			if _, err := configuredKEKs(c); err == nil {
				t.Errorf("mode %04o, as Postgres reads it: accepted", mode)
			}
		}
	})
	t.Run("named file inside the data directory", func(t *testing.T) {
		c, s := open(t)
		c.kekFile = filepath.Join(c.dataDir, "my-kek")
		writeFile(t, c.kekFile, rotortest.NewKEK()+"\n", 0o600)
		if _, err := embeddedKEKs(ctx, c, s, log); err == nil || !strings.Contains(err.Error(), "inside the data directory") {
			t.Errorf("err = %v, want refused", err)
		}
		c.demo = true
		if _, err := embeddedKEKs(ctx, c, s, log); err != nil {
			t.Errorf("--demo: %v", err)
		}
	})
	t.Run("file of an earlier version inside the data directory", func(t *testing.T) {
		c, s := open(t)
		legacy := filepath.Join(c.dataDir, legacyKEKFile)
		writeFile(t, legacy, rotortest.NewKEK()+"\n", 0o600)
		_, err := embeddedKEKs(ctx, c, s, log)
		if err == nil || !strings.Contains(err.Error(), "mv "+legacy+" "+c.dataDir+kekFileSuffix) {
			t.Errorf("err = %v, want refused with the move to make", err)
		}
		if fileExists(c.dataDir + kekFileSuffix) {
			t.Error("a new key file was generated beside the old one")
		}
		c.demo = true // make run on an old checkout keeps working
		if _, err := embeddedKEKs(ctx, c, s, log); err != nil {
			t.Errorf("--demo: %v", err)
		}
	})
	t.Run("from a file or the environment", func(t *testing.T) {
		c, s := open(t)
		entry := rotortest.NewKEK()
		c.kekFile = filepath.Join(t.TempDir(), "kek")
		writeFile(t, c.kekFile, entry+"\n", 0o600)
		fromFile, err := embeddedKEKs(ctx, c, s, log)
		if err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(entry, ":")
		if fromFile.Primary() != id {
			t.Errorf("primary %q, want %q", fromFile.Primary(), id)
		}
		in, err := serveCommand.parse(nil, func(k string) string {
			return map[string]string{"ROTOR_KEY_ENCRYPTION_KEY_FILE": c.kekFile}[k]
		}, nil, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if in.cfg.kekFile != c.kekFile {
			t.Errorf("ROTOR_KEY_ENCRYPTION_KEY_FILE: %q", in.cfg.kekFile)
		}
		c.keks = entry
		if _, err := configuredKEKs(c); err == nil || !strings.Contains(err.Error(), "alternatives") {
			t.Errorf("both: err = %v", err)
		}
	})
	t.Run("errors never quote a key", func(t *testing.T) {
		key := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
		for _, content := range []string{key + ":kek-1", "kek-1:" + key[:20], key} {
			c, s := open(t)
			c.kekFile = filepath.Join(t.TempDir(), "kek")
			writeFile(t, c.kekFile, content+"\n", 0o600)
			_, err := embeddedKEKs(ctx, c, s, log)
			if err == nil {
				t.Fatalf("%q accepted", content)
			}
			if strings.Contains(err.Error(), key[:12]) {
				t.Errorf("error quotes the key: %v", err)
			}
			c.kekFile, c.keks = "", content
			if _, err := configuredKEKs(c); err == nil || strings.Contains(err.Error(), key[:12]) {
				t.Errorf("--key-encryption-keys: error quotes the key: %v", err)
			}
		}
	})
}
