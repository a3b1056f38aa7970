package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/rotor-idp/rotor/internal/audit"
	"github.com/rotor-idp/rotor/keys"
)

// keysFlags are the flags of the keys commands that work on the ring: the
// store and the key ring's timing, which the propagation check needs.
var keysFlags = []flagger{(*config).storeFlags, (*config).jsonFlag, (*config).keyFlags, (*config).auditFlags}

var keysCommands = []command{
	{group: "keys", name: "list",
		flags: keysFlags, run: withKeyRing(keysList)},
	{group: "keys", name: "rotate", synopsis: "[--alg RS256|EdDSA] [--force]",
		flags: append([]flagger{(*config).rotateFlags}, keysFlags...), run: withKeyRing(keysRotate)},
	{group: "keys", name: "revoke", args: []string{"KID"},
		summary: "unpublish a key at once (a KID that starts with - goes after --)",
		flags:   keysFlags, run: withKeyRing(keysRevoke)},
	{group: "keys", name: "rewrap", summary: "re-encrypt private keys under the first key-encryption key",
		flags: keysFlags, run: withKeyRing(keysRewrap)},
	{group: "keys", name: "new-kek", summary: "print a new key-encryption key",
		flags: []flagger{(*config).jsonFlag}, run: keysNewKEK},
}

// rotation is what the flags of `keys rotate` ask for.
type rotation struct {
	alg   string
	force bool
}

func (c *config) rotateFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.rotate.alg, "alg", "", "lane to rotate: RS256 or EdDSA (default: every lane)")
	fs.BoolVar(&c.rotate.force, "force", false, "rotate even if the next key has not been published for --key-propagation-delay (verifiers that have not refreshed their JWKS will reject new tokens until they do)")
}

// keyRing is the key manager of an admin command, and the lanes it keeps.
type keyRing struct {
	mgr  *keys.Manager
	algs []keys.Alg
}

// withKeyRing adapts a command that works on the key ring: it checks the
// ring's settings, opens the store with the key-encryption keys and builds a
// key manager on it. The manager does not run: the command acts once.
func withKeyRing(run func(context.Context, *invocation, keyRing) error) func(context.Context, *invocation) error {
	return func(ctx context.Context, in *invocation) error {
		policy, err := in.cfg.policy()
		if err != nil {
			return err
		}
		algs, err := in.cfg.algs()
		if err != nil {
			return err
		}
		be, err := openBackend(ctx, in.cfg, forKeys, in.warnLogger())
		if err != nil {
			return err
		}
		defer be.Close()
		l, closeAudit, err := openAudit(in.cfg.auditLog, in.stderr)
		if err != nil {
			return err
		}
		defer closeAudit()
		mgr, err := keys.NewManager(be.st, keys.Config{Algs: algs, Policy: policy, PollInterval: in.cfg.pollInterval,
			KEKs: be.keks, Logger: in.warnLogger(), Events: keyEvents(l, audit.CLI, nil)})
		if err != nil {
			return err
		}
		return run(ctx, in, keyRing{mgr: mgr, algs: algs})
	}
}

func keysList(ctx context.Context, in *invocation, ring keyRing) error {
	infos, err := ring.mgr.List(ctx)
	if err != nil {
		return err
	}
	same := func(k keys.KeyInfo) keys.KeyInfo { return k }
	return printList(in, infos, same, "KID\tALG\tSTATE\tCREATED\tSIGNABLE\tACTIVATED\tRETIRED\tREVOKED", func(k keys.KeyInfo) string {
		return strings.Join([]string{k.KID, string(k.Alg), string(k.State),
			timestamp(k.CreatedAt), timestamp(k.SignableAt), timestamp(k.ActivatedAt), timestamp(k.RetiredAt), timestamp(k.RevokedAt)}, "\t")
	})
}

// keysRotate rotates the lane --alg names, or every lane.
func keysRotate(ctx context.Context, in *invocation, ring keyRing) error {
	lanes := ring.algs
	if in.cfg.rotate.alg != "" {
		lanes = []keys.Alg{keys.Alg(in.cfg.rotate.alg)} // the manager refuses a lane it does not keep
	}
	var results []keys.Rotation
	for _, l := range lanes {
		r, err := ring.mgr.Rotate(ctx, l, in.cfg.rotate.force)
		if errors.Is(err, keys.ErrConcurrentRotation) {
			// Two admins (or an admin and the schedule) rotated at once:
			// one rotation happened, which is what both wanted.
			fmt.Fprintf(in.stderr, "%s: another process rotated this lane at the same moment; its rotation stands\n", l)
			continue
		}
		if err != nil {
			return fmt.Errorf("rotate %s: %w", l, err)
		}
		results = append(results, r)
		if !in.cfg.json {
			fmt.Fprintf(in.stdout, "%s: %s is now signing (retired %s); %s is published as next\n", r.Alg, r.Current, orDash(r.Retired), r.Next)
		}
	}
	if in.cfg.json {
		return in.printJSON(results)
	}
	return nil
}

func keysRevoke(ctx context.Context, in *invocation, ring keyRing) error {
	kid := in.args[0]
	info, err := ring.mgr.Revoke(ctx, kid)
	if err != nil {
		return err
	}
	return in.done(info, "revoked key %s; it is gone from every JWKS within --key-poll-interval", kid)
}

func keysRewrap(ctx context.Context, in *invocation, ring keyRing) error {
	n, err := ring.mgr.Rewrap(ctx)
	if err != nil {
		return err
	}
	return in.done(map[string]int{"rewrapped": n}, "re-encrypted %d keys under the first key-encryption key", n)
}

// keysNewKEK prints a fresh key-encryption key entry; it needs no store.
func keysNewKEK(_ context.Context, in *invocation) error {
	kek, err := keys.GenerateKEK()
	if err != nil {
		return err
	}
	return in.done(map[string]string{"key_encryption_key": kek}, "%s", kek)
}
