package broker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestConnLimiter(t *testing.T) {
	tests := []struct {
		name   string
		uids   []uint32 // acquired in order
		want   []bool
		per    int
		global int
	}{
		{"per uid", []uint32{1000, 1000, 1000, 1001}, []bool{true, true, false, true}, 2, 10},
		{"root exempt from per uid", []uint32{0, 0, 0}, []bool{true, true, true}, 1, 10},
		{"global applies to root too", []uint32{1000, 0, 0}, []bool{true, true, false}, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newConnLimiter(tt.per, tt.global)
			for i, uid := range tt.uids {
				if got := l.acquire(uid); got != tt.want[i] {
					t.Errorf("acquire #%d (uid %d): got %v, want %v", i, uid, got, tt.want[i])
				}
			}
		})
	}
	t.Run("release frees a slot", func(t *testing.T) {
		l := newConnLimiter(1, 10)
		if !l.acquire(1000) || l.acquire(1000) {
			t.Fatal("want the first acquire admitted and the second refused")
		}
		l.release(1000)
		if !l.acquire(1000) {
			t.Errorf("got refused after release, want admitted")
		}
		if len(l.byUID) != 1 || l.open != 1 {
			t.Errorf("got %d uids and %d open, want 1 and 1", len(l.byUID), l.open)
		}
	})
}

// rawConn is one client connection to the daemon, outside the Go client's pool.
type rawConn struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func (h *harness) dial(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", h.d.Socket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A safety net only: every read below ends well before it, or the test fails.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, Conn: c, r: bufio.NewReader(c)}
}

// whoami sends one request on the connection and reports whether it was answered.
func (c *rawConn) whoami() bool {
	c.t.Helper()
	if _, err := io.WriteString(c, "GET /v1/whoami HTTP/1.1\r\nHost: tollgate\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// closedByServer reports whether the daemon closed the connection (EOF) rather than the
// safety deadline passing.
func (c *rawConn) closedByServer() bool {
	c.t.Helper()
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// TestConnectionCaps is the review's finding #2: one uid may hold only so many
// connections, and the daemon as a whole only so many; over-limit ones are closed.
func TestConnectionCaps(t *testing.T) {
	t.Run("per uid", func(t *testing.T) {
		h := newHarnessOpts(t, func(o *Options) { o.MaxConnsPerUID = 3 })
		h.users.as("alice")
		var held []*rawConn
		for range 3 {
			c := h.dial(t)
			if !c.whoami() {
				t.Fatal("got a connection within the cap refused")
			}
			held = append(held, c)
		}
		if over := h.dial(t); over.whoami() {
			t.Errorf("got a 4th connection of alice served, want it closed")
		}
		h.users.as("carol")
		if !h.dial(t).whoami() {
			t.Errorf("got carol's connection refused, want her own cap")
		}
		for i, c := range held {
			if !c.whoami() {
				t.Errorf("held connection %d: got no answer, want it still served", i)
			}
		}
	})
	t.Run("global", func(t *testing.T) {
		h := newHarnessOpts(t, func(o *Options) { o.MaxConns = 2 })
		h.users.as("root")
		for range 2 {
			if !h.dial(t).whoami() {
				t.Fatal("got a connection within the cap refused")
			}
		}
		if h.dial(t).whoami() {
			t.Errorf("got a 3rd connection served, want it closed")
		}
	})
}

func TestServerTimeouts(t *testing.T) {
	h := newHarnessOpts(t, func(o *Options) { o.ReadTimeout = 200 * time.Millisecond; o.IdleTimeout = 200 * time.Millisecond })
	t.Run("slow body", func(t *testing.T) {
		c := h.dial(t)
		io.WriteString(c, "POST /v1/launch HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
		if !c.closedByServer() {
			t.Errorf("got a slow body's connection held open, want it closed")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := h.dial(t)
		if !c.whoami() {
			t.Fatal("got no answer")
		}
		if !c.closedByServer() {
			t.Errorf("got an idle connection held open, want it closed")
		}
	})
}
