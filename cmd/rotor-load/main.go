// Command rotor-load measures a Rotor deployment it starts on loopback: throughput, latency, errors and server CPU per request for each grant and algorithm, the JWKS and the example API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rotor-load:", err)
		os.Exit(1)
	}
}
