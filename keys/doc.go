// Package keys generates, encrypts, rotates and uses Rotor's asymmetric signing keys.
//
// Plan (plan.go) is the lifecycle as a pure function of a lane; a Manager
// (manager.go) runs it against a Store: its sync loop (sync.go) keeps the
// in-memory Snapshot current, lane.go applies plans under the lane lock with
// keys from a pool generated ahead of it (pool.go), and admin.go holds the
// operations behind `rotor keys` and their reports.
package keys
