package keys

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

// ErrInvalidToken is wrapped by every error from Snapshot.Verify.
var ErrInvalidToken = errors.New("keys: invalid token")

// Snapshot is an immutable view of the key ring: the signing key of each lane,
// every published key, and the JWKS bytes. A Manager swaps whole snapshots
// behind an atomic pointer, so readers never lock.
type Snapshot struct {
	version uint64
	loaded  bool
	fp      [sha256.Size]byte // of everything the snapshot was built from

	signers map[Alg]*SigningKey    // current key per signing lane
	opened  map[string]*SigningKey // current and next keys, by kid, for reuse by the next build
	keys    map[string]*publishedKey
	order   []*publishedKey // JWKS order
	jwks    []byte
	etag    string
}

type publishedKey struct {
	kid     string
	alg     Alg
	state   State
	created time.Time
	active  time.Time
	retired time.Time
	expires time.Time // zero unless retired: when it stops verifying
	pub     crypto.PublicKey
	// verifier checks its signatures; nil only for a key outside the
	// sizes jws.NewKey accepts, which Rotor does not make.
	verifier *jws.Key
	jwk      []byte // canonical public JWK
	stored   []byte // PublicJWK as stored, to reuse the parse
}

var emptyJWKS = []byte(`{"keys":[]}`)

// emptySnapshot is what a Manager serves before Start.
func emptySnapshot() *Snapshot {
	return &Snapshot{jwks: emptyJWKS, etag: etagOf(emptyJWKS)}
}

// SnapshotOptions says how to build a Snapshot.
type SnapshotOptions struct {
	// Now decides which retired keys have expired.
	Now time.Time
	// RetireAfter is Policy.RetireAfter: a retired key is published until
	// RetiredAt+RetireAfter. Zero publishes retired keys until deleted.
	RetireAfter time.Duration
	// Signing lists the lanes whose current key must be opened (an error if
	// that fails) and whose next key is opened too if possible, so that a
	// promotion takes effect without a decryption. Nil means every lane.
	Signing []Alg
}

// NewSnapshot builds a snapshot from stored records. Only the current and
// next keys of signing lanes are decrypted; all other private keys stay
// sealed.
func NewSnapshot(records []Record, keks *KEKSet, opt SnapshotOptions) (*Snapshot, error) {
	return buildSnapshot(records, keks, opt, nil, nil)
}

// buildSnapshot is NewSnapshot reusing what prev already parsed and decrypted
// (an RSA private key parse costs about a millisecond). If nothing that
// matters changed it returns prev itself. warn hears about next keys that
// could not be opened: they are still published, and opening is retried when
// they become current.
func buildSnapshot(records []Record, keks *KEKSet, opt SnapshotOptions, prev *Snapshot, warn func(error)) (*Snapshot, error) {
	signing := func(a Alg) bool { return opt.Signing == nil || slices.Contains(opt.Signing, a) }

	var pubs []Record
	for _, r := range records {
		switch r.State {
		case StateNext, StateCurrent:
		case StateRetired:
			if opt.RetireAfter > 0 && !r.RetiredAt.Add(opt.RetireAfter).After(opt.Now) {
				continue // every token it signed has expired
			}
		default:
			continue // revoked, or a state this version does not know
		}
		if !r.Alg.Valid() {
			continue // a lane a newer version added; not ours to publish
		}
		pubs = append(pubs, r)
	}
	slices.SortFunc(pubs, jwksOrder)

	fp := fingerprint(pubs, opt, signing)
	if prev != nil && prev.loaded && prev.fp == fp {
		return prev, nil
	}

	s := &Snapshot{
		loaded:  true,
		fp:      fp,
		signers: map[Alg]*SigningKey{},
		opened:  map[string]*SigningKey{},
		keys:    make(map[string]*publishedKey, len(pubs)),
	}
	body := bytes.NewBufferString(`{"keys":[`)
	for i, r := range pubs {
		if _, dup := s.keys[r.KID]; dup {
			return nil, fmt.Errorf("keys: kid %s is stored twice", r.KID)
		}
		pk := &publishedKey{kid: r.KID, alg: r.Alg, state: r.State, created: r.CreatedAt, active: r.ActivatedAt, retired: r.RetiredAt, stored: r.PublicJWK}
		if r.State == StateRetired && opt.RetireAfter > 0 {
			pk.expires = r.RetiredAt.Add(opt.RetireAfter)
		}
		if old := prev.published(r.KID); old != nil && old.alg == r.Alg && bytes.Equal(old.stored, r.PublicJWK) {
			pk.pub, pk.jwk, pk.verifier = old.pub, old.jwk, old.verifier
		} else {
			pub, canon, err := parsePublicJWK(r)
			if err != nil {
				return nil, err
			}
			pk.pub, pk.jwk = pub, canon
			pk.verifier, _ = jws.NewKey(string(r.Alg), pub)
		}
		s.keys[r.KID] = pk
		s.order = append(s.order, pk)
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(pk.jwk)

		if !signing(r.Alg) || (r.State != StateCurrent && r.State != StateNext) {
			continue
		}
		sk, err := prev.openedKey(r, keks, pk.pub)
		switch {
		case err == nil:
			s.opened[r.KID] = sk
		case r.State == StateCurrent:
			return nil, err
		case warn != nil:
			warn(err)
		}
		// pubs has the newest activation first, so with two current keys
		// (which only a broken store could hold) the one a repairing
		// Maintain keeps signs.
		if _, dup := s.signers[r.Alg]; r.State == StateCurrent && !dup {
			s.signers[r.Alg] = sk
		}
	}
	body.WriteString(`]}`)
	s.jwks = body.Bytes()
	s.etag = etagOf(s.jwks)
	return s, nil
}

// jwksOrder sorts keys by lane, then current, next, retired, revoked, then
// newest first, then kid: the same JWKS bytes on every replica.
func jwksOrder(a, b Record) int {
	rank := func(s State) int {
		switch s {
		case StateCurrent:
			return 0
		case StateNext:
			return 1
		case StateRetired:
			return 2
		}
		return 3
	}
	since := func(r Record) time.Time {
		switch r.State {
		case StateCurrent:
			return r.ActivatedAt
		case StateRetired:
			return r.RetiredAt
		case StateRevoked:
			return r.RevokedAt
		}
		return r.CreatedAt
	}
	return cmp.Or(
		cmp.Compare(a.Alg, b.Alg),
		cmp.Compare(rank(a.State), rank(b.State)),
		since(b).Compare(since(a)),
		cmp.Compare(a.KID, b.KID),
	)
}

// fingerprint covers everything a snapshot depends on, so that a reload that
// finds the same ring (the usual poll) keeps the old snapshot and its version.
func fingerprint(pubs []Record, opt SnapshotOptions, signing func(Alg) bool) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	str := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	tm := func(t time.Time) {
		binary.BigEndian.PutUint64(n[:], uint64(t.UnixNano()))
		h.Write(n[:])
	}
	for _, a := range []Alg{EdDSA, RS256} {
		if signing(a) {
			str([]byte(a))
		}
	}
	for _, r := range pubs {
		str([]byte(r.KID))
		str([]byte(r.Alg))
		str([]byte(r.State))
		str(r.PublicJWK)
		str([]byte(r.KEKID))
		str(r.Sealed)
		tm(r.CreatedAt)
		tm(r.ActivatedAt)
		tm(r.RetiredAt)
		if r.State == StateRetired && opt.RetireAfter > 0 {
			tm(r.RetiredAt.Add(opt.RetireAfter))
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func (s *Snapshot) published(kid string) *publishedKey {
	if s == nil {
		return nil
	}
	return s.keys[kid]
}

// openedKey returns the signing key for r, reusing the one prev opened: the
// kid is the thumbprint of the public key and the private key was checked
// against it, so the same kid means the same key even if it was re-sealed.
func (s *Snapshot) openedKey(r Record, keks *KEKSet, pub crypto.PublicKey) (*SigningKey, error) {
	if s != nil {
		if sk, ok := s.opened[r.KID]; ok && sk.Alg == r.Alg {
			return sk, nil
		}
	}
	priv, err := openPrivate(r, keks, pub)
	if err != nil {
		return nil, err
	}
	return newSigningKey(r.KID, r.Alg, priv)
}

// etagOf is a strong validator (RFC 9110 §8.8.3) derived from the body, so
// every replica serving the same JWKS sends the same ETag.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// Version counts the snapshots a Manager has published; it grows by one each
// time the ring changes. The snapshot before Start is version 0.
func (s *Snapshot) Version() uint64 { return s.version }

// Loaded reports whether the snapshot came from the store (false only for the
// placeholder a Manager serves before Start).
func (s *Snapshot) Loaded() bool { return s.loaded }

// Signer returns the current key of lane alg.
func (s *Snapshot) Signer(alg Alg) (*SigningKey, bool) {
	k, ok := s.signers[alg]
	return k, ok
}

// Ready reports whether the snapshot is loaded and can sign with every alg.
func (s *Snapshot) Ready(algs ...Alg) bool {
	if !s.loaded {
		return false
	}
	for _, a := range algs {
		if _, ok := s.signers[a]; !ok {
			return false
		}
	}
	return true
}

// JWKS returns the JWK Set (RFC 7517 §5) of every published key, public
// members only, and its strong ETag. The bytes are shared: do not modify.
func (s *Snapshot) JWKS() (body []byte, etag string) { return s.jwks, s.etag }

// KIDs lists the published kids in JWKS order.
func (s *Snapshot) KIDs() []string {
	out := make([]string, len(s.order))
	for i, k := range s.order {
		out[i] = k.kid
	}
	return out
}

// Verify checks a compact JWS access token against the published keys with
// the rules every verifier in Rotor shares (jws.Verify): strict compact
// serialization, header and claims decoding; no crit; typ at+jwt; a kid
// naming a published key (revoked keys are not published) whose lane is the
// header's alg (RFC 8725 §3.1: the key decides the algorithm, not the
// token); the signature. A retired key whose retention has passed by now no
// longer verifies. It returns the decoded claims set and the kid; the
// claims' values are the caller's to check. Errors wrap ErrInvalidToken and
// the jws reason, and name no value from the token.
func (s *Snapshot) Verify(token string, now time.Time) (payload []byte, kid string, err error) {
	var key *publishedKey
	t, err := jws.Verify(token, nil, func(kid string) (*jws.Key, error) {
		key = s.keys[kid]
		switch {
		case key == nil:
			return nil, jws.ErrUnknownKID
		case !key.expires.IsZero() && !now.Before(key.expires):
			return nil, fmt.Errorf("key %s was retired and its tokens have expired", key.kid)
		case key.verifier == nil:
			return nil, fmt.Errorf("key %s cannot verify tokens", key.kid)
		}
		return key.verifier, nil
	})
	if key != nil {
		kid = key.kid
	}
	if err != nil {
		return nil, kid, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return t.Payload, kid, nil
}

func (s *Snapshot) redacted() string {
	if s == nil {
		return "Snapshot(nil)"
	}
	return fmt.Sprintf("Snapshot(v%d, loaded=%t, %d published keys)", s.version, s.loaded, len(s.order))
}

// String summarises the snapshot without key material.
func (s *Snapshot) String() string { return s.redacted() }

// GoString summarises the snapshot without key material.
func (s *Snapshot) GoString() string { return s.redacted() }

// Format summarises the snapshot without key material, whatever the verb.
func (s *Snapshot) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.redacted())) }

// LogValue summarises the snapshot without key material.
func (s *Snapshot) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("Snapshot(nil)")
	}
	return slog.GroupValue(slog.Uint64("version", s.version), slog.Bool("loaded", s.loaded), slog.Any("kids", s.KIDs()))
}
