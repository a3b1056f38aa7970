package jws

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
)

var (
	testKeysOnce          sync.Once
	testRSA               *rsa.PrivateKey
	testEd                ed25519.PrivateKey
	testRSAKey, testEdKey *Key
	testKeysErr           error
)

// keys returns an RSA-2048 and an Ed25519 key, generated once.
func keys(t testing.TB) (rs *rsa.PrivateKey, ed ed25519.PrivateKey, rsKey, edKey *Key) {
	t.Helper()
	testKeysOnce.Do(func() {
		if testRSA, testKeysErr = rsa.GenerateKey(rand.Reader, 2048); testKeysErr != nil {
			return
		}
		if _, testEd, testKeysErr = ed25519.GenerateKey(rand.Reader); testKeysErr != nil {
			return
		}
		if testRSAKey, testKeysErr = NewKey(RS256, &testRSA.PublicKey); testKeysErr != nil {
			return
		}
		testEdKey, testKeysErr = NewKey(EdDSA, testEd.Public())
	})
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	return testRSA, testEd, testRSAKey, testEdKey
}

func sign(t testing.TB, priv crypto.Signer, header, payload string) string {
	t.Helper()
	return signInput(t, priv, header, base64.RawURLEncoding.EncodeToString([]byte(payload)))
}

// signInput signs header and a payload segment given as is, so that the
// segment can be one no encoder would write.
func signInput(t testing.TB, priv crypto.Signer, header, payloadSegment string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + payloadSegment
	var sig []byte
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, p, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, []byte(input))
	}
	return input + "." + enc(sig)
}

const testClaims = `{"iss":"https://rotor.example","sub":"u1","aud":"api","exp":1893456900,"iat":1893456000,"jti":"j","client_id":"web","scope":"a b"}`

// finder looks kids up in a map, as both users of Verify do.
func finder(m map[string]*Key) func(string) (*Key, error) {
	return func(kid string) (*Key, error) {
		if k := m[kid]; k != nil {
			return k, nil
		}
		return nil, ErrUnknownKID
	}
}

func TestVerify(t *testing.T) {
	rs, ed, rsKey, edKey := keys(t)
	find := finder(map[string]*Key{"r": rsKey, "e": edKey})
	rsTok := sign(t, rs, `{"alg":"RS256","kid":"r","typ":"at+jwt"}`, testClaims)
	edTok := sign(t, ed, `{"alg":"EdDSA","kid":"e","typ":"application/AT+JWT"}`, testClaims)
	errFind := errors.New("the finder's own error")
	tests := []struct {
		name  string
		token string
		algs  []string
		find  func(string) (*Key, error)
		want  error
	}{
		{"RS256", rsTok, nil, find, nil},
		{"EdDSA", edTok, nil, find, nil},
		{"RS256 allowed", rsTok, []string{RS256}, find, nil},
		{"EdDSA not allowed", edTok, []string{RS256}, find, ErrAlg},
		{"allowlist cannot add an algorithm", sign(t, rs, `{"alg":"HS256","kid":"r","typ":"at+jwt"}`, testClaims), []string{"HS256"}, find, ErrAlg},
		{"finder's error passes through", rsTok, nil, func(string) (*Key, error) { return nil, errFind }, errFind},
		{"finder without a key", rsTok, nil, func(string) (*Key, error) { return nil, nil }, ErrUnknownKID},
		{"key of the other algorithm", rsTok, nil, func(string) (*Key, error) { return edKey, nil }, ErrKeyMismatch},
		{"signature by the other key", sign(t, ed, `{"alg":"EdDSA","kid":"r","typ":"at+jwt"}`, testClaims), nil,
			func(string) (*Key, error) { k, _ := NewKey(EdDSA, mustEd(t).Public()); return k, nil }, ErrSignature},
		{"claims strict", sign(t, rs, `{"alg":"RS256","kid":"r","typ":"at+jwt"}`, `{"iss":"a","iss":"b"}`), nil, find, ErrClaims},
		{"signed payload of impossible length", signInput(t, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, "e30AA"), nil, find, ErrClaims},
		{"signed payload with trailing bits", signInput(t, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, "e31"), nil, find, ErrClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			tok, err := Verify(tt.token, tt.algs, func(kid string) (*Key, error) {
				calls++
				if kid != "r" && kid != "e" {
					t.Errorf("find(%q)", kid)
				}
				return tt.find(kid)
			})
			if calls > 1 {
				t.Errorf("find called %d times", calls)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if err != nil {
				if tok.Key != nil || tok.Payload != nil {
					t.Errorf("Verify returned a token with an error: %+v", tok)
				}
				return
			}
			if string(tok.Payload) != testClaims || tok.Claims.Subject != "u1" || tok.Key.Alg() != tok.Header.Alg {
				t.Errorf("Verify = %+v", tok)
			}
		})
	}
}

func mustEd(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerifyAllocations guards the speed of the check around the signature:
// hostile input is rejected without allocating, and a good EdDSA token costs
// three allocations (the kid, the payload, the audience list).
func TestVerifyAllocations(t *testing.T) {
	_, ed, _, edKey := keys(t)
	find := finder(map[string]*Key{"e": edKey})
	good := sign(t, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, testClaims)
	forged := good[:len(good)-4] + "AAAA"
	tests := []struct {
		name  string
		token string
		want  error
		max   float64
	}{
		{"good", good, nil, 3},
		{"too large", strings.Repeat("A", MaxTokenSize+1), ErrTooLarge, 0},
		{"junk", strings.Repeat("\xff", MaxTokenSize), ErrMalformed, 0},
		{"huge header", strings.Repeat("A", MaxTokenSize-10) + ".AA.AA", ErrHeaderTooLarge, 0},
		{"bad header", "AAAA.AA.AA", ErrHeader, 0},
		{"forged signature", forged, ErrSignature, 1}, // the kid
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Verify(tt.token, nil, find); err != tt.want {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { _, _ = Verify(tt.token, nil, find) }); n > tt.max {
				t.Errorf("%v allocations, want at most %v", n, tt.max)
			}
		})
	}
}

// TestVerifyBurst verifies good and forged tokens from many goroutines at
// once: Verify shares only read-only state, and every verdict holds.
func TestVerifyBurst(t *testing.T) {
	rs, ed, rsKey, edKey := keys(t)
	find := finder(map[string]*Key{"r": rsKey, "e": edKey})
	good := []string{
		sign(t, rs, `{"alg":"RS256","kid":"r","typ":"at+jwt"}`, testClaims),
		sign(t, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, testClaims),
	}
	bad := []string{
		sign(t, mustEd(t), `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, testClaims),
		sign(t, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt","alg":"EdDSA"}`, testClaims),
		good[0][:len(good[0])-1],
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 32 {
		wg.Go(func() {
			<-start
			for i := range 20 {
				tok := good[(g+i)%len(good)]
				if _, err := Verify(tok, nil, find); err != nil {
					t.Errorf("good token: %v", err)
				}
				tok = bad[(g+i)%len(bad)]
				if _, err := Verify(tok, nil, find); err == nil {
					t.Errorf("bad token %q accepted", tok)
				}
			}
		})
	}
	close(start)
	wg.Wait()
}

func TestTypeIsAccessToken(t *testing.T) {
	for typ, want := range map[string]bool{
		"at+jwt": true, "AT+JWT": true, "At+Jwt": true, "application/at+jwt": true, "Application/AT+JWT": true,
		"": false, "JWT": false, "jwt": false, "at+jwt ": false, " at+jwt": false, "at+jwt2": false,
		"application/at+jwt; charset=utf-8": false, "application/jwt": false, "text/at+jwt": false,
		"at\u017fjwt": false, "applicatıon/at+jwt": false, "at+jwt\x00": false,
	} {
		if got := TypeIsAccessToken(typ); got != want {
			t.Errorf("TypeIsAccessToken(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestNewKey(t *testing.T) {
	rs, ed, _, _ := keys(t)
	big4097 := new(big.Int).Lsh(big.NewInt(1), 4096)
	big4097.Add(big4097, big.NewInt(1))
	tests := []struct {
		name string
		alg  string
		pub  crypto.PublicKey
		ok   bool
	}{
		{"RS256", RS256, &rs.PublicKey, true},
		{"EdDSA", EdDSA, ed.Public(), true},
		{"RSA key for EdDSA", EdDSA, &rs.PublicKey, false},
		{"Ed25519 key for RS256", RS256, ed.Public(), false},
		{"unknown alg", "RS512", &rs.PublicKey, false},
		{"private key", RS256, rs, false},
		{"RSA 1024", RS256, &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537}, false},
		{"RSA 4097", RS256, &rsa.PublicKey{N: big4097, E: 65537}, false},
		{"RSA without modulus", RS256, &rsa.PublicKey{E: 65537}, false},
		{"even exponent", RS256, &rsa.PublicKey{N: rs.N, E: 65536}, false},
		{"exponent 1", RS256, &rsa.PublicKey{N: rs.N, E: 1}, false},
		{"short Ed25519 key", EdDSA, ed25519.PublicKey(make([]byte, 31)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKey(tt.alg, tt.pub)
			if (err == nil) != tt.ok {
				t.Fatalf("NewKey = %v, %v; want ok=%v", k, err, tt.ok)
			}
			if tt.ok && (k.Alg() != tt.alg || !k.Equal(k)) {
				t.Errorf("key %+v", k)
			}
		})
	}
}

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, give
// only its own reasons, and accept only the tokens that were signed.
func FuzzVerify(f *testing.F) {
	rs, ed, rsKey, edKey := keys(f)
	find := finder(map[string]*Key{"r": rsKey, "e": edKey})
	issued := map[string]bool{
		sign(f, rs, `{"alg":"RS256","kid":"r","typ":"at+jwt"}`, testClaims):      true,
		sign(f, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, testClaims):      true,
		sign(f, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt"}`, `{"aud":["a"]}`): true,
		// An escape in a value is fine; only names may not have one.
		sign(f, ed, `{"alg":"EdDSA","kid":"\u0065","typ":"at+jwt","jwk":{"a":[1,{"b":"}"}]}}`, `{}`): true,
	}
	for tok := range issued {
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "..." + parts[2])
	}
	f.Add(sign(f, ed, `{"alg":"EdDSA","kid":"e","typ":"at+jwt","crit":["x"]}`, `{}`))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".")
	f.Add("rtr_" + strings.Repeat("A", 43))
	f.Add("a.b.c.d.e")
	f.Add(`{"payload":"x","signatures":[]}`)
	f.Add("")
	reasons := map[error]bool{ErrTooLarge: true, ErrMalformed: true, ErrHeaderTooLarge: true, ErrHeader: true, ErrCrit: true,
		ErrAlg: true, ErrTyp: true, ErrNoKID: true, ErrUnknownKID: true, ErrKeyMismatch: true, ErrSignature: true, ErrClaims: true}
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := Verify(token, nil, find)
		if err != nil {
			if !reasons[err] {
				t.Fatalf("error %v is not one of Verify's reasons", err)
			}
			return
		}
		// Canonical base64url, a strict parser and non-malleable
		// signatures (Go checks s < n for RSA and S < L for Ed25519)
		// mean no other string can verify.
		if !issued[token] {
			t.Fatalf("accepted a token that was not signed: %q", token)
		}
		if !json.Valid(tok.Payload) {
			t.Fatalf("payload %q", tok.Payload)
		}
	})
}
