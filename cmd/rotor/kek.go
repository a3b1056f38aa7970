package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/rotor-idp/rotor/keys"
)

// Key-encryption keys come from the environment (ROTOR_KEY_ENCRYPTION_KEYS,
// or the --key-encryption-keys flag, which `ps` shows to every user of the
// machine), or from a file (--key-encryption-key-file) that only Rotor's
// user may read. The embedded store, given neither, generates a file on its
// first start: beside the data directory, never inside it, so a copy or
// backup of the directory does not carry the key that opens its signing
// keys.

// kekFileSuffix names the generated file: <data-dir>.key-encryption-key.
const kekFileSuffix = ".key-encryption-key"

// legacyKEKFile is where earlier versions generated the file: inside the
// data directory.
const legacyKEKFile = "key-encryption-key"

// configuredKEKs returns the keys --key-encryption-keys or
// --key-encryption-key-file give, nil if neither is set.
func configuredKEKs(c *config) (*keys.KEKSet, error) {
	switch {
	case c.keks != "" && c.kekFile != "":
		return nil, usagef("--key-encryption-keys and --key-encryption-key-file are alternatives: give one")
	case c.keks != "":
		k, err := keys.ParseKEKs(c.keks)
		if err != nil {
			return nil, usagef("--key-encryption-keys: %v", err)
		}
		return k, nil
	case c.kekFile != "":
		k, err := readKEKFile(c.kekFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--key-encryption-key-file %s does not exist", c.kekFile)
		}
		return k, err
	}
	return nil, nil
}

// readKEKFile reads a key-encryption key file, refusing one that others
// than its owner may read or write. Errors never quote the file's content.
func readKEKFile(path string) (*keys.KEKSet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key-encryption key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key-encryption key file %s has mode %04o: group and others must have no access to it (chmod 600 %s)",
			path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key-encryption key file: %w", err)
	}
	defer clear(raw)
	k, err := keys.ParseKEKs(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid key-encryption key file: %v", path, err)
	}
	return k, nil
}

// embeddedKEKFile is the key file of the embedded store: the one
// --key-encryption-key-file names, else <data-dir>.key-encryption-key.
func embeddedKEKFile(c *config) (string, error) {
	if c.kekFile != "" {
		return c.kekFile, nil
	}
	dir, err := filepath.Abs(c.dataDir)
	if err != nil {
		return "", err
	}
	return dir + kekFileSuffix, nil
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return true // cannot tell: assume the worst
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// embeddedKEKs returns the configured key-encryption keys or the embedded
// store's key file. The file is generated only while the store holds no
// signing keys, so an existing ring is never left without its key. A key
// file inside the data directory is refused outside --demo.
func embeddedKEKs(ctx context.Context, c *config, s keys.Store, log *slog.Logger) (*keys.KEKSet, error) {
	if c.keks != "" {
		return configuredKEKs(c)
	}
	path, err := embeddedKEKFile(c)
	if err != nil {
		return nil, err
	}
	if legacy := filepath.Join(c.dataDir, legacyKEKFile); c.kekFile == "" && fileExists(legacy) && !fileExists(path) {
		if !c.demo {
			return nil, fmt.Errorf("the key-encryption key file %s is inside the data directory, so any copy of the directory "+
				"holds both the sealed signing keys and the key that opens them. Move it beside the directory "+
				"(mv %s %s) or elsewhere (and name it with --key-encryption-key-file)", legacy, legacy, path)
		}
		path = legacy
		log.Warn("the key-encryption key file is inside the data directory; move it out before production use", "file", legacy)
	}
	if within(path, c.dataDir) && !c.demo {
		return nil, fmt.Errorf("the key-encryption key file %s is inside the data directory %s: keep it apart from the data it protects", path, c.dataDir)
	}
	k, err := readKEKFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	existing, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("the key-encryption key file %s is missing, but the signing keys in %s are encrypted under it: "+
			"restore the file, or pass the key in ROTOR_KEY_ENCRYPTION_KEYS", path, c.dataDir)
	}
	return generateKEKFile(path, log)
}

// generateKEKFile writes a new key-encryption key to path, readable by its
// owner only, and returns it.
func generateKEKFile(path string, log *slog.Logger) (*keys.KEKSet, error) {
	entry, err := keys.GenerateKEK()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	if _, err := f.WriteString(entry + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	log.Warn("generated a key-encryption key for the embedded store, beside its data directory; back it up apart from the data, "+
		"or configure your own with ROTOR_KEY_ENCRYPTION_KEYS or --key-encryption-key-file", "file", path)
	return keys.ParseKEKs(entry)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
