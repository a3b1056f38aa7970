// Command testreport reads `go test -json` and prints what a person needs: each package's result, the output of failed tests, the count of passed, failed and skipped tests, and why each skipped; it fails the run on any skip under CI=true, except tests named as skipping by design.
package main
