package awssim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server is a simulator listening on a TCP address.
type Server struct {
	// URL is the base URL to use as the SDK's BaseEndpoint, e.g. "http://127.0.0.1:4567".
	URL string
	// Addr is the address actually listened on (useful with port 0).
	Addr string

	srv  *http.Server
	done chan error
}

// Start listens on addr (for example "127.0.0.1:0") and serves a new simulator there
// until Close.
func Start(addr string, opts Options) (*Server, *Sim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	sim := New(opts)
	s := &Server{
		URL:  "http://" + ln.Addr().String(),
		Addr: ln.Addr().String(),
		srv:  &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, sim, nil
}

// closeGrace is how long Close waits for in-flight requests before cutting them off.
const closeGrace = time.Second

// Close stops the listener, waits briefly for in-flight requests, then closes every
// connection left. A connection a client opened but sent nothing on counts as busy to
// http.Server.Shutdown for five seconds (HTTP clients open such spares), and a stopping
// simulator owes nobody an answer: what is still open after closeGrace is closed, not
// reported as an error.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	serr := <-s.done
	s.done <- serr
	if serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Wait blocks until the server stops (after Close, or if serving fails).
func (s *Server) Wait() error {
	err := <-s.done
	s.done <- err
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
