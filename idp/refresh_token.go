package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// RefreshTokenPrefix starts every Rotor refresh token, so secret scanners and
// humans can tell one apart from an access token.
const RefreshTokenPrefix = "rtr_"

// A refresh token is the prefix and, base64url, a 6-byte issue stamp
// (milliseconds since the Unix epoch, big-endian) followed by 32 random bytes
// (256 bits). The store keys it by the stamp followed by the SHA-256 of the
// whole token: the stamp is no secret (the token's holder knows when it was
// issued) and the hash is all that could find the token, but keys that grow
// with time keep the store's index hot where tokens are issued and presented
// (the newest end) however many spent tokens it holds, where keys that are
// only hashes scatter every insert and every lookup over the whole index.
const (
	refreshStampLen  = 6
	refreshRandomLen = 32
)

var (
	refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(refreshStampLen+refreshRandomLen)
	// legacyRefreshTokenLen is the earlier format's length: the prefix and
	// 32 random bytes, keyed by their SHA-256 alone. Such tokens stay valid
	// until their families expire.
	legacyRefreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(refreshRandomLen)
)

// newRefreshToken returns a fresh opaque refresh token issued at now and its
// store key (see refreshTokenLen), which is all the store keeps.
func newRefreshToken(now time.Time) (token string, key []byte) {
	var b [refreshStampLen + refreshRandomLen]byte
	putStamp(b[:refreshStampLen], now)
	_, _ = rand.Read(b[refreshStampLen:])
	token = RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, refreshTokenKey(token, b[:refreshStampLen])
}

// putStamp writes t's milliseconds since the Unix epoch, big-endian, into
// the 6 bytes of b (enough until the year 10889).
func putStamp(b []byte, t time.Time) {
	ms := uint64(t.UnixMilli())
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
}

// familyIDEncoding is base32hex in lower case (RFC 4648 §7): it sorts as the
// bytes it encodes, in byte order and in any collation a database may use
// for text (digits, then lower-case letters).
var familyIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newFamilyID returns a fresh family id for a family created at now.
func newFamilyID(now time.Time) string {
	var random [familyRandomLen]byte
	_, _ = rand.Read(random[:])
	return FamilyIDAt(now, random)
}

// familyRandomLen is the random part of a family id: 80 bits after a
// millisecond stamp make a collision as good as impossible, and a family id
// is no secret (it names a family in logs and audit events; nothing can be
// done with it alone).
const familyRandomLen = 10

// FamilyIDAt is the id of a family created at t with the given random bytes
// (newFamilyID draws them; data generators pick their own): t's 6-byte stamp
// and the 10 bytes, 26 characters that sort by creation time. Like token
// keys, ids that grow with time keep the store's indexes on families (and
// the tokens' index by family) hot where families are created, and put the
// families a purge deletes, the oldest, side by side.
func FamilyIDAt(t time.Time, random [familyRandomLen]byte) string {
	var b [refreshStampLen + familyRandomLen]byte
	putStamp(b[:refreshStampLen], t)
	copy(b[refreshStampLen:], random[:])
	return familyIDEncoding.EncodeToString(b[:])
}

// RefreshKeyAt is the store key of a refresh token issued at t whose
// SHA-256 is sum, for data generators that store tokens nobody will
// present; Rotor's own tokens get theirs from newRefreshToken.
func RefreshKeyAt(t time.Time, sum [32]byte) []byte {
	var stamp [refreshStampLen]byte
	putStamp(stamp[:], t)
	return append(stamp[:], sum[:]...)
}

// refreshTokenKey is the store key of token: stamp followed by the token's
// SHA-256.
func refreshTokenKey(token string, stamp []byte) []byte {
	sum := sha256.Sum256([]byte(token))
	return append(append(make([]byte, 0, len(stamp)+len(sum)), stamp...), sum[:]...)
}

// RefreshTokenKey returns the key under which the store keeps a refresh
// token, and false for anything that is not shaped like one: for tools and
// tests that look a presented token up in the store.
func RefreshTokenKey(token string) ([]byte, bool) { return refreshTokenHash(token) }

// refreshTokenHash checks the shape of a presented refresh token and returns
// its store key; malformed tokens never reach the store. A token of the
// earlier format is keyed by its SHA-256 alone, as it was stored.
func refreshTokenHash(tok string) ([]byte, bool) {
	if (len(tok) != refreshTokenLen && len(tok) != legacyRefreshTokenLen) || !strings.HasPrefix(tok, RefreshTokenPrefix) {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(RefreshTokenPrefix):])
	if err != nil {
		return nil, false
	}
	if len(raw) == refreshRandomLen {
		sum := sha256.Sum256([]byte(tok))
		return sum[:], true
	}
	return refreshTokenKey(tok, raw[:refreshStampLen]), true
}

// newFamily starts a refresh-token family for a fresh grant, bound to the
// DPoP key jkt unless it is "", and returns its first token.
func (s *server) newFamily(r *http.Request, c Client, u User, scope string, now time.Time, jkt string) (string, error) {
	tok, hash := newRefreshToken(now)
	fam := Family{
		ID: newFamilyID(now), ClientID: c.ID, Subject: u.ID, Scope: scope, CredentialVersion: u.CredentialVersion,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL), JKT: jkt,
	}
	err := s.refresh.CreateFamily(r.Context(), fam, RefreshToken{Hash: hash, FamilyID: fam.ID, IssuedAt: now})
	if errors.Is(err, ErrRevoked) {
		// The user was disabled or their password changed while this
		// grant checked the old one.
		return "", errBadLogin
	}
	if err != nil {
		return "", storeError(err)
	}
	s.limitFamilies(r, c.ID, u.ID, now)
	return tok, nil
}

// limitFamilies revokes the oldest live families of the user and client
// beyond Config.MaxFamiliesPerUserClient, after a new one was created. The
// new family is already stored and its token about to be sent, so a failure
// here only logs: the next family tries again.
func (s *server) limitFamilies(r *http.Request, clientID, sub string, now time.Time) {
	keep := s.cfg.MaxFamiliesPerUserClient
	if keep < 0 {
		return
	}
	n, err := s.refresh.LimitFamilies(r.Context(), sub, clientID, keep, now)
	switch {
	case err != nil:
		s.log.Warn("capping refresh-token families failed", "client_id", clientID, "error", err.Error())
	case n > 0:
		s.log.Info("revoked the oldest refresh-token families beyond the cap",
			"client_id", clientID, "user_id", sub, "count", n, "cap", keep)
		s.familyLimitObserved(r, clientID, sub, n)
	}
}
