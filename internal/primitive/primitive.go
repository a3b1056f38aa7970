package primitive

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"syscall"
	"time"
)

// input is about the size of a signed access token's signing input.
var input = make([]byte, 420)

// Op is one raw primitive operation on a fresh key.
type Op struct {
	Name string
	run  func()
}

// Sign returns the bare signature operation of alg ("RS256" with RSA-2048,
// or "EdDSA" with Ed25519): what signing one token cannot avoid.
func Sign(alg string) (Op, error) {
	switch alg {
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return Op{}, err
		}
		return Op{"rsa.SignPKCS1v15(2048, SHA-256)", func() {
			d := sha256.Sum256(input)
			if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:]); err != nil {
				panic(err)
			}
		}}, nil
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Op{}, err
		}
		return Op{"ed25519.Sign", func() { ed25519.Sign(k, input) }}, nil
	}
	return Op{}, fmt.Errorf("primitive: unknown algorithm %q", alg)
}

// Verify returns the bare signature verification of alg.
func Verify(alg string) (Op, error) {
	switch alg {
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return Op{}, err
		}
		d := sha256.Sum256(input)
		sig, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		return Op{"rsa.VerifyPKCS1v15(2048, SHA-256)", func() {
			d := sha256.Sum256(input)
			if rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d[:], sig) != nil {
				panic("primitive: verify failed")
			}
		}}, nil
	case "EdDSA":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Op{}, err
		}
		sig := ed25519.Sign(k, input)
		return Op{"ed25519.Verify", func() {
			if !ed25519.Verify(pub, input, sig) {
				panic("primitive: verify failed")
			}
		}}, nil
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Op{}, err
		}
		d := sha256.Sum256(input)
		sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
		return Op{"ecdsa.VerifyASN1(P-256, SHA-256)", func() {
			d := sha256.Sum256(input)
			if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
				panic("primitive: verify failed")
			}
		}}, nil
	}
	return Op{}, fmt.Errorf("primitive: unknown algorithm %q", alg)
}

// Run performs the operation once.
func (o Op) Run() { o.run() }

// CPUPerOp runs the operation n times on one OS thread and returns the mean
// CPU time of one, read from the kernel's per-thread accounting: unlike wall
// time it does not grow when other processes share the machine, so it
// compares with a server's CPU time per request.
func (o Op) CPUPerOp(n int) (time.Duration, error) {
	if n < 1 {
		n = 1
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := threadCPU()
	if err != nil {
		return 0, err
	}
	for range n {
		o.run()
	}
	after, err := threadCPU()
	if err != nil {
		return 0, err
	}
	return (after - before) / time.Duration(n), nil
}

// threadCPU is the calling thread's user+system CPU time (Linux
// RUSAGE_THREAD).
func threadCPU() (time.Duration, error) {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, fmt.Errorf("primitive: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// PerOp runs the operation n times and returns the mean time of one.
func (o Op) PerOp(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	start := time.Now()
	for range n {
		o.run()
	}
	return time.Since(start) / time.Duration(n)
}
