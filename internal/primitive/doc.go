// Package primitive times Rotor's raw signing and verification primitives, the baselines its benchmarks report ratios against.
package primitive
