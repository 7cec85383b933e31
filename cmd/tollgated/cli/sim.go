package cli

import (
	"fmt"
	"net"

	"github.com/tollgate/tollgate/awssim"
)

// SimCmd is `tollgated sim`: the simulated AWS on a loopback port, for tests and demos.
// The first line on stdout is "awssim listening on URL", which scripts read.
type SimCmd struct {
	Listen string `help:"Address to listen on." default:"127.0.0.1:0" placeholder:"ADDR"`
	Clock  string `help:"real (wall-clock time) or manual (moves only when advanced)." enum:"real,manual" default:"real"`
}

// Run serves until interrupted.
func (c *SimCmd) Run(env *Env) error {
	log := env.logger("info")
	srv, _, err := startSim(c.Listen, awssim.Options{Clock: c.Clock, Logger: log.With(logComponent, "awssim")})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "awssim listening on %s\n", srv.URL)
	if f, ok := env.Out.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	select {
	case <-env.Ctx.Done():
		return srv.Close()
	case <-waitChan(srv):
		return fmt.Errorf("simulator stopped: %w", srv.Wait())
	}
}

// startSim serves a new simulator on addr. Only loopback addresses are accepted: the
// simulator takes any credentials and must never look like a real endpoint to others.
func startSim(addr string, opts awssim.Options) (*awssim.Server, *awssim.Sim, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, &usageError{fmt.Sprintf("--listen %s: %v", addr, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, nil, &usageError{fmt.Sprintf("--listen %s: the simulator listens on loopback only (e.g. 127.0.0.1:0)", addr)}
	}
	srv, sim, err := awssim.Start(addr, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("start simulator on %s: %w", addr, err)
	}
	return srv, sim, nil
}

// waitChan is closed when srv stops serving on its own.
func waitChan(srv *awssim.Server) <-chan struct{} {
	c := make(chan struct{})
	go func() { _ = srv.Wait(); close(c) }()
	return c
}
