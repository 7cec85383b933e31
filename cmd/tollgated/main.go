// Command tollgated is tollgate's daemon: the only holder of the cloud credentials on a
// shared host. It serves the unix socket the tollgate CLI talks to, and runs the
// collector, the simulator and the development setup.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate/tollgate/cmd/tollgated/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
