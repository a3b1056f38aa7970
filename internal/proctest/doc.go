// Package proctest builds Rotor's binaries and runs them as real processes in tests.
package proctest
