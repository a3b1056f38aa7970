package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// kekSize is the size of a key-encryption key: AES-256.
const kekSize = 32

// aadPrefix versions the AAD so that a future change of the sealed format can
// never open a blob written by this one. The kid follows it: GCM then refuses
// a blob copied onto another key's row.
const aadPrefix = "rotor-signing-key:v1:"

// ErrDecrypt is wrapped by every error that comes from failing to open a
// sealed private key: a key-encryption key that is not configured, the wrong
// key under a configured id, or a blob that was altered or moved to another
// kid. Its text never contains key material.
var ErrDecrypt = errors.New("keys: cannot decrypt signing key")

// KEKSet is the list of key-encryption keys from configuration. The first one
// seals new private keys; every one of them can open. Adding a new key at the
// front, running Manager.Rewrap and then dropping the old key rotates the KEK
// without touching the signing keys.
//
// A KEKSet never reveals its keys: String, GoString, Format, MarshalJSON and
// LogValue show only the ids. The AES keys themselves live only inside the
// cipher.AEAD values, behind pointers, so even reflection-driven printing of a
// struct that embeds a KEKSet shows addresses rather than bytes.
type KEKSet struct {
	keks []*kek // keks[0] is the primary
}

type kek struct {
	id   string
	aead cipher.AEAD
	prk  *[32]byte // HKDF pseudorandom key for DeriveKeys; see derive.go
}

// ParseKEKs parses the key-encryption keys from configuration:
//
//	id1:base64key[,id2:base64key…]
//
// Each key is 32 random bytes (AES-256) in standard or URL-safe base64, with
// or without padding; ids are made of [A-Za-z0-9_-] and must be unique. The
// first key is the primary. Errors name the entry by its position and never
// echo any of the input, not even an id: an entry written backwards
// (key:id) would otherwise put the key in a log as the "id".
func ParseKEKs(s string) (*KEKSet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("keys: no key-encryption keys configured (want id:base64key[,id2:base64key…]; `rotor keys new-kek` makes one)")
	}
	set := &KEKSet{}
	seen := map[string]int{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("keys: key-encryption key entry %d is not of the form id:base64key", i+1)
		}
		id = strings.TrimSpace(id)
		if !validKEKID(id) {
			return nil, fmt.Errorf("keys: key-encryption key entry %d: id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'", i+1)
		}
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("keys: key-encryption key entry %d has the id of entry %d", i+1, j)
		}
		seen[id] = i + 1
		raw, err := decodeKEK(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("keys: key-encryption key entry %d: %w (is it written id:key, id first?)", i+1, err)
		}
		k, err := newKEK(id, raw)
		clear(raw)
		if err != nil {
			return nil, err
		}
		set.keks = append(set.keks, k)
	}
	return set, nil
}

// GenerateKEK returns a configuration entry id:base64key for a new random
// key-encryption key. Put it first in the list to make it the primary, keep
// the old entries after it until Manager.Rewrap has moved every key.
func GenerateKEK() (string, error) {
	var id [4]byte
	key := make([]byte, kekSize)
	defer clear(key)
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("keys: generating key-encryption key: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("keys: generating key-encryption key: %w", err)
	}
	return fmt.Sprintf("kek-%x:%s", id, base64.RawURLEncoding.EncodeToString(key)), nil
}

func validKEKID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// decodeKEK accepts the four base64 alphabets/padding combinations, because
// operators paste keys from whatever tool made them.
func decodeKEK(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != kekSize {
				clear(raw)
				return nil, fmt.Errorf("key is %d bytes, want %d (AES-256)", len(raw), kekSize)
			}
			return raw, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

func newKEK(id string, raw []byte) (*kek, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("keys: key-encryption key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block) // 96-bit nonce, 128-bit tag
	if err != nil {
		return nil, fmt.Errorf("keys: key-encryption key %q: %w", id, err)
	}
	return &kek{id: id, aead: aead, prk: extractPRK(raw)}, nil
}

// Primary is the id of the key-encryption key that seals new keys, or "" for
// an empty set (only a zero KEKSet is empty; ParseKEKs never returns one).
func (s *KEKSet) Primary() string {
	if s == nil || len(s.keks) == 0 {
		return ""
	}
	return s.keks[0].id
}

// IDs lists the configured key-encryption key ids, primary first.
func (s *KEKSet) IDs() []string {
	if s == nil {
		return nil
	}
	ids := make([]string, len(s.keks))
	for i, k := range s.keks {
		ids[i] = k.id
	}
	return ids
}

func (s *KEKSet) lookup(id string) *kek {
	for _, k := range s.keks {
		if k.id == id {
			return k
		}
	}
	return nil
}

func aad(kid string) []byte { return []byte(aadPrefix + kid) }

// seal encrypts plaintext under the primary KEK with a fresh random 96-bit
// nonce (safe for far more than the number of keys Rotor will ever seal under
// one KEK) and returns nonce||ciphertext and the KEK id.
func (s *KEKSet) seal(kid string, plaintext []byte) (sealed []byte, kekID string, err error) {
	if s == nil || len(s.keks) == 0 {
		return nil, "", errors.New("keys: no key-encryption key configured")
	}
	k := s.keks[0]
	ns := k.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, "", fmt.Errorf("keys: sealing signing key %s: %w", kid, err)
	}
	return k.aead.Seal(out, out, plaintext, aad(kid)), k.id, nil
}

// open decrypts a sealed private key. The error says which KEK and which kid,
// and what the operator most likely got wrong.
func (s *KEKSet) open(kid, kekID string, sealed []byte) ([]byte, error) {
	var k *kek
	if s != nil {
		k = s.lookup(kekID)
	}
	if k == nil {
		return nil, fmt.Errorf("%w %s: key-encryption key %q is not configured (configured: %s; wrong --key-encryption-keys?)",
			ErrDecrypt, kid, kekID, strings.Join(s.IDs(), ", "))
	}
	ns := k.aead.NonceSize()
	if len(sealed) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("%w %s: sealed key is truncated (%d bytes)", ErrDecrypt, kid, len(sealed))
	}
	pt, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], aad(kid))
	if err != nil {
		// GCM cannot tell a wrong key from a blob moved to another kid or
		// altered; the wrong key is by far the likelier cause.
		return nil, fmt.Errorf("%w %s: key-encryption key %q does not match, or the sealed key was altered (wrong --key-encryption-keys?)",
			ErrDecrypt, kid, kekID)
	}
	return pt, nil
}

func (s *KEKSet) redacted() string {
	if s == nil {
		return "KEKSet(nil)"
	}
	return "KEKSet(" + strings.Join(s.IDs(), ",") + "; keys redacted)"
}

// String shows the KEK ids only.
func (s *KEKSet) String() string { return s.redacted() }

// GoString shows the KEK ids only.
func (s *KEKSet) GoString() string { return s.redacted() }

// Format shows the KEK ids only, whatever the verb and flags.
func (s *KEKSet) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.redacted())) }

// MarshalJSON shows the KEK ids only.
func (s *KEKSet) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Primary string   `json:"primary"`
		IDs     []string `json:"ids"`
		Keys    string   `json:"keys"`
	}{s.Primary(), s.IDs(), "redacted"})
}

// LogValue shows the KEK ids only.
func (s *KEKSet) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("KEKSet(nil)")
	}
	return slog.GroupValue(slog.String("primary", s.Primary()), slog.Any("ids", s.IDs()), slog.String("keys", "redacted"))
}

var (
	_ fmt.Formatter  = (*KEKSet)(nil)
	_ fmt.Stringer   = (*KEKSet)(nil)
	_ fmt.GoStringer = (*KEKSet)(nil)
	_ json.Marshaler = (*KEKSet)(nil)
	_ slog.LogValuer = (*KEKSet)(nil)
)
