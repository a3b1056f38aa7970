package keys

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// b64 is the base64url encoding without padding that JWS uses throughout
// (RFC 7515 §2, "Base64url Encoding"). Strict decoding refuses non-canonical
// trailing bits, so one token has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// tokenType is the JWS "typ" of Rotor's access tokens (RFC 9068 §2.1). RFC
// 7515 §4.1.9 lets the "application/" prefix be omitted, and Rotor does.
const tokenType = "at+jwt"

// maxTokenLen bounds what Verify will look at; Rotor's tokens are well under
// 2 KiB.
const maxTokenLen = 64 << 10

// ErrInvalidToken is wrapped by every error from Snapshot.Verify.
var ErrInvalidToken = errors.New("keys: invalid token")

// SigningKey is the current private key of a lane, ready to sign. It is
// immutable and safe for concurrent use. It never reveals the private key:
// String, GoString, Format, MarshalJSON and LogValue show the kid and alg
// only, and the key itself sits behind a pointer so that printing a struct
// that holds a SigningKey by value shows an address, not key bytes.
type SigningKey struct {
	KID string
	Alg Alg

	priv    *privateKey
	pub     crypto.PublicKey
	prefix  []byte // base64url(header) + "."
	sigSize int
}

// privateKey holds exactly one of the two; a struct rather than an interface
// so that signing dispatches without a type switch on crypto.Signer. Both
// are pointers, two hops from SigningKey: fmt follows one pointer when it
// prints a field with a verb it cannot apply to pointers (%s of a struct
// holding one), never two, so no printing path reaches the key bytes.
type privateKey struct {
	ed  *ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

// header is the protected header of every token, in the member order Rotor
// writes (RFC 7515 §4.1: alg, kid; RFC 9068 §2.1: typ).
type header struct {
	Alg Alg    `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

func newSigningKey(kid string, alg Alg, s crypto.Signer) (*SigningKey, error) {
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: tokenType})
	if err != nil {
		return nil, err
	}
	k := &SigningKey{KID: kid, Alg: alg, priv: &privateKey{}, pub: s.Public()}
	switch p := s.(type) {
	case ed25519.PrivateKey:
		k.priv.ed, k.sigSize = &p, ed25519.SignatureSize
	case *rsa.PrivateKey:
		k.priv.rsa, k.sigSize = p, p.Size()
	default:
		return nil, fmt.Errorf("keys: cannot sign with %T", s)
	}
	k.prefix = append(base64.RawURLEncoding.AppendEncode(nil, h), '.')
	return k, nil
}

// Sign returns the compact serialization (RFC 7515 §7.1) of a JWS over
// payload with the header {"alg":…,"kid":…,"typ":"at+jwt"}. payload is the
// JWT claims set, already JSON-encoded.
func (k *SigningKey) Sign(payload []byte) (string, error) {
	b, err := k.AppendSign(nil, payload)
	if err != nil {
		return "", err
	}
	// b is ours alone and never written again, so it can back the string
	// without a copy (as strings.Builder does).
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// AppendSign appends the compact JWS of payload to dst and returns the
// extended buffer; with a reused dst it signs without allocating beyond what
// the signature primitive itself needs.
func (k *SigningKey) AppendSign(dst, payload []byte) ([]byte, error) {
	enc := base64.RawURLEncoding
	dst = slices.Grow(dst, len(k.prefix)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(k.sigSize))
	start := len(dst)
	dst = append(dst, k.prefix...)
	dst = enc.AppendEncode(dst, payload)
	input := dst[start:] // the JWS Signing Input, RFC 7515 §5.1 step 5
	var sig []byte
	if k.priv.ed != nil {
		// RFC 8037 §3.1: Ed25519 signs the JWS Signing Input itself.
		sig = ed25519.Sign(*k.priv.ed, input)
	} else {
		// RFC 7518 §3.3: RSASSA-PKCS1-v1_5 over SHA-256 of the input. The
		// scheme is deterministic and crypto/rsa ignores the random
		// source, so nil it is.
		digest := sha256.Sum256(input)
		var err error
		sig, err = rsa.SignPKCS1v15(nil, k.priv.rsa, crypto.SHA256, digest[:])
		if err != nil {
			return dst[:start], fmt.Errorf("keys: signing with %s: %w", k.KID, err)
		}
	}
	dst = append(dst, '.')
	return enc.AppendEncode(dst, sig), nil
}

// Public is the public key of the signing key.
func (k *SigningKey) Public() crypto.PublicKey { return k.pub }

func (k *SigningKey) redacted() string {
	if k == nil {
		return "SigningKey(nil)"
	}
	return "SigningKey(" + string(k.Alg) + " " + k.KID + "; private key redacted)"
}

// String shows the kid and alg only.
func (k *SigningKey) String() string { return k.redacted() }

// GoString shows the kid and alg only.
func (k *SigningKey) GoString() string { return k.redacted() }

// Format shows the kid and alg only, whatever the verb.
func (k *SigningKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.redacted())) }

// MarshalJSON shows the kid and alg only.
func (k *SigningKey) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		KID string `json:"kid"`
		Alg Alg    `json:"alg"`
	}{k.KID, k.Alg})
}

// LogValue shows the kid and alg only.
func (k *SigningKey) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("SigningKey(nil)")
	}
	return slog.GroupValue(slog.String("kid", k.KID), slog.String("alg", string(k.Alg)))
}

// Format hides private key material even if a privateKey is reached some
// other way than through its SigningKey.
func (p *privateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[private key redacted]")) }

var (
	_ fmt.Formatter  = (*SigningKey)(nil)
	_ fmt.Stringer   = (*SigningKey)(nil)
	_ fmt.GoStringer = (*SigningKey)(nil)
	_ json.Marshaler = (*SigningKey)(nil)
	_ slog.LogValuer = (*SigningKey)(nil)
)

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
	jwk     []byte // canonical public JWK
	stored  []byte // PublicJWK as stored, to reuse the parse
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
		if !r.Alg.valid() {
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
			pk.pub, pk.jwk = old.pub, old.jwk
		} else {
			pub, canon, err := parsePublicJWK(r)
			if err != nil {
				return nil, err
			}
			pk.pub, pk.jwk = pub, canon
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

// Verify checks a compact JWS access token against the published keys and
// returns its payload and kid: the header must carry typ at+jwt (RFC 9068
// §4), a kid naming a published key (revoked keys are not published), an alg
// equal to that key's lane (RFC 8725 §3.1: the key decides the algorithm, not
// the token), and no "crit" (RFC 7515 §4.1.11: Rotor understands no
// extensions). A retired key whose retention has passed by now no longer
// verifies. Claims are not checked; that is the caller's job.
func (s *Snapshot) Verify(token string, now time.Time) (payload []byte, kid string, err error) {
	if len(token) > maxTokenLen {
		return nil, "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, "", fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, "", fmt.Errorf("%w: header is not base64url", ErrInvalidToken)
	}
	// A map with exact lookups: encoding/json matches struct fields without
	// regard to case, which would let "ALG" stand in for "alg".
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, "", fmt.Errorf("%w: header is not a JSON object", ErrInvalidToken)
	}
	if _, ok := hdr["crit"]; ok {
		return nil, "", fmt.Errorf("%w: crit header not supported", ErrInvalidToken)
	}
	alg, kid, typ := headerString(hdr, "alg"), headerString(hdr, "kid"), headerString(hdr, "typ")
	if t := strings.ToLower(typ); t != tokenType && t != "application/"+tokenType {
		return nil, "", fmt.Errorf("%w: typ %s, want %s", ErrInvalidToken, quoteShort(typ), tokenType)
	}
	key := s.keys[kid]
	if kid == "" || key == nil {
		return nil, "", fmt.Errorf("%w: kid %s is not published", ErrInvalidToken, quoteShort(kid))
	}
	if Alg(alg) != key.alg {
		return nil, "", fmt.Errorf("%w: alg %s does not match key %s (%s)", ErrInvalidToken, quoteShort(alg), kid, key.alg)
	}
	if !key.expires.IsZero() && !now.Before(key.expires) {
		return nil, kid, fmt.Errorf("%w: key %s was retired and its tokens have expired", ErrInvalidToken, kid)
	}
	sb, err := b64.DecodeString(sig)
	if err != nil {
		return nil, kid, fmt.Errorf("%w: signature is not base64url", ErrInvalidToken)
	}
	input := token[:len(h)+1+len(p)]
	switch pub := key.pub.(type) {
	case ed25519.PublicKey:
		ok1 = ed25519.Verify(pub, []byte(input), sb)
	case *rsa.PublicKey:
		digest := sha256.Sum256([]byte(input))
		ok1 = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sb) == nil
	default:
		ok1 = false
	}
	if !ok1 {
		return nil, kid, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	payload, err = b64.DecodeString(p)
	if err != nil {
		return nil, kid, fmt.Errorf("%w: payload is not base64url", ErrInvalidToken)
	}
	return payload, kid, nil
}

func headerString(h map[string]json.RawMessage, name string) string {
	var s string
	if raw, ok := h[name]; ok {
		_ = json.Unmarshal(raw, &s) // a non-string leaves "" and fails the checks
	}
	return s
}

// quoteShort quotes attacker-supplied header values for an error message,
// cut short so a huge header cannot blow up a log line.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
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
