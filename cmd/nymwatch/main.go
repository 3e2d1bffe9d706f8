// Command nymwatch watches the Nym network from the outside, detects
// incidents, classifies them per the disclosure policy and pages a human to
// confirm a draft incident report. main only wires signals to run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the default action is restored, so a second
	// Ctrl-C ends a shutdown that takes too long.
	go func() { <-ctx.Done(); stop() }()
	// SIGHUP reloads the config; a buffer of 1 coalesces bursts of signals.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, hup)
	stop()
	os.Exit(code)
}
