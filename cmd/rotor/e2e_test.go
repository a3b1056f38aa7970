package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestReplicasConvergeOnCLIRotation runs two real `rotor serve` processes on
// one database, rotates with the CLI, and checks that both replicas publish
// the same keys and that a key signs only after both published it.
func TestReplicasConvergeOnCLIRotation(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient("svc", "--scopes", "read", "--audience", "https://api.example")
	a := e.deploy.Serve("replica-a")
	b := e.deploy.Serve("replica-b")

	if diff := cmp.Diff(a.JWKSKids(t), b.JWKSKids(t)); diff != "" {
		t.Fatalf("replicas publish different keys (-a +b):\n%s", diff)
	}
	if n := len(a.JWKSKids(t)); n != 4 {
		t.Fatalf("%d published keys, want current+next in two lanes", n)
	}

	// Forcing skips the propagation check; right after it, the fresh next key
	// is too young to sign and a plain rotation is refused.
	e.mustRunInProcess("", "keys", "rotate", "--alg", "RS256", "--force")
	_, _, err := e.runInProcess("", "keys", "rotate", "--alg", "RS256")
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("rotating a young next key: err = %v, want a refusal that mentions --force", err)
	}

	next := e.keyIn("RS256", "next")
	for _, r := range []*rotortest.Replica{a, b} {
		proctest.Await(t, 10*time.Second, r.Name+" to publish the next key", func() bool {
			return slices.Contains(r.JWKSKids(t), next.KID)
		})
	}
	publishedByBoth := a.JWKSKids(t)
	if diff := cmp.Diff(publishedByBoth, b.JWKSKids(t)); diff != "" {
		t.Fatalf("replicas disagree before rotation (-a +b):\n%s", diff)
	}
	// The propagation delay is wall-clock time that has to pass: Rotor
	// refuses the rotation until it has.
	var out string
	proctest.Await(t, 30*time.Second, "the rotation to be accepted once the next key has been published for the propagation delay", func() bool {
		var err error
		out, _, err = e.runInProcess("", "keys", "rotate", "--alg", "RS256")
		if err != nil && !strings.Contains(err.Error(), "less than the propagation delay") {
			t.Fatalf("rotate: %v", err)
		}
		return err == nil
	})
	if !strings.Contains(out, next.KID+" is now signing") {
		t.Fatalf("rotate printed %q", out)
	}
	newNext := e.keyIn("RS256", "next")

	for _, r := range []*rotortest.Replica{a, b} {
		proctest.Await(t, 10*time.Second, r.Name+" to sign with the promoted key", func() bool {
			kid := rotortest.KID(t, r.ClientCredentials(t, "svc", secret))
			// Whatever a replica signs with, old key or new, every replica
			// published it before the rotation.
			if !slices.Contains(publishedByBoth, kid) {
				t.Fatalf("%s signed with %s, which was not published before the rotation", r.Name, kid)
			}
			return kid == next.KID
		})
		proctest.Await(t, 10*time.Second, r.Name+" to publish the new next key", func() bool {
			return slices.Contains(r.JWKSKids(t), newNext.KID)
		})
	}
	if diff := cmp.Diff(a.JWKSKids(t), b.JWKSKids(t)); diff != "" {
		t.Fatalf("replicas disagree after rotation (-a +b):\n%s", diff)
	}
}

func TestServeRefusesBrokenPropagationInvariant(t *testing.T) {
	e := newTestEnv(t)
	e.deploy.Env["ROTOR_JWKS_MAX_AGE"] = "10s"
	e.deploy.Env["ROTOR_KEY_POLL_INTERVAL"] = "2s"
	e.deploy.Env["ROTOR_KEY_PROPAGATION_DELAY"] = "5s"
	_, _, err := e.runInProcess("", "serve")
	if err == nil {
		t.Fatal("serve accepted a propagation delay shorter than the JWKS max-age")
	}
	for _, want := range []string{"--key-propagation-delay", "--jwks-max-age", "13s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, ok := err.(usageError); !ok {
		t.Errorf("error is %T, want a usage error (exit 2)", err)
	}
}

func TestServeWithWrongKEK(t *testing.T) {
	e := newTestEnv(t)
	first := e.deploy.Serve("first")
	first.Kill()

	right := e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"]
	e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"] = rotortest.NewKEK()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr strings.Builder
	err := run(ctx, []string{"serve"}, e.getenv, strings.NewReader(""), &stderr, &stderr)
	if err == nil {
		t.Fatal("serve started with the wrong key-encryption key")
	}
	if !strings.Contains(err.Error(), "key-encryption key") {
		t.Errorf("error %q does not say the key-encryption key is wrong", err)
	}
	for _, secret := range []string{right[len("test:"):], e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"][len("test:"):]} {
		if strings.Contains(err.Error(), secret) || strings.Contains(stderr.String(), secret) {
			t.Error("key material in the error or the log")
		}
	}
}

// TestReplicasHearRotationsThroughNotifications polls the key ring only once
// a minute, so a replica that publishes a CLI rotation within seconds can
// only have heard of it from the database notification.
func TestReplicasHearRotationsThroughNotifications(t *testing.T) {
	e := newTestEnv(t)
	e.deploy.Env["ROTOR_KEY_POLL_INTERVAL"] = "1m"
	e.deploy.Env["ROTOR_KEY_PROPAGATION_DELAY"] = "62s"
	a := e.deploy.Serve("replica-a")
	e.mustRunInProcess("", "keys", "rotate", "--force", "--alg", "EdDSA")
	next := e.keyIn("EdDSA", "next")
	proctest.Await(t, 15*time.Second, "the replica to publish the new next key", func() bool {
		return slices.Contains(a.JWKSKids(t), next.KID)
	})
}
