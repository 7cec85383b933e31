package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	srv, err := startSim(c.Listen, awssim.Options{Clock: c.Clock, Logger: log.With("component", "awssim")})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "awssim listening on %s\n", srv.URL)
	if f, ok := env.Out.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	<-env.Ctx.Done()
	return srv.Close()
}

// simServer is a running simulator.
type simServer struct {
	URL string
	Sim *awssim.Sim
	srv *http.Server
	ln  net.Listener
}

// startSim serves a new simulator on addr. Only loopback addresses are accepted: the
// simulator takes any credentials and must never look like a real endpoint to others.
func startSim(addr string, opts awssim.Options) (*simServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--listen %s: %v", addr, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, &usageError{fmt.Sprintf("--listen %s: the simulator listens on loopback only (e.g. 127.0.0.1:0)", addr)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	sim := awssim.New(opts)
	s := &simServer{
		URL: "http://" + ln.Addr().String(),
		Sim: sim,
		ln:  ln,
		srv: &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(slog.New(slog.DiscardHandler).Handler(), slog.LevelDebug)},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && opts.Logger != nil {
			opts.Logger.Error("awssim stopped", logErr, err)
		}
	}()
	return s, nil
}

// Close stops the simulator's server.
func (s *simServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
