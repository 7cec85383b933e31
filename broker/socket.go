package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tollgate/tollgate/fsafe"
)

// listenSocket opens the daemon's pathname socket. It creates the directory (0755) if
// missing and refuses a directory it cannot trust (fsafe.CheckPrivateDir: a link, someone
// else's, or writable by group or others), refuses to start if a live daemon answers on
// path, removes a stale socket only if the file there IS a socket (never a regular file
// someone pointed the config at), and sets the socket's mode without following a link.
func listenSocket(path string, mode os.FileMode, euid int) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := fsafe.PrepareDir(dir, 0o755, euid); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("check socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSocket == 0:
		return nil, fmt.Errorf("socket path %s exists and is not a socket (%s): refusing to remove it", path, fi.Mode().Type())
	default:
		if live(path) {
			return nil, fmt.Errorf("another tollgated is already serving on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := chmodSocket(path, mode); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// chmodSocket sets the mode of the socket at path without following a symbolic link:
// it opens the path itself (O_PATH|O_NOFOLLOW), checks that what it got is a socket, and
// changes the mode of exactly that inode through /proc/self/fd. A link swapped in after
// ListenUnix is refused, never followed to (say) the database.
func chmodSocket(path string, mode os.FileMode) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set mode of socket %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("set mode of socket %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("set mode of socket %s: it is no longer a socket (mode %o): refusing", path, st.Mode)
	}
	if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), uint32(mode.Perm())); err != nil {
		return fmt.Errorf("set mode of socket %s: %w", path, err)
	}
	return nil
}

// live reports whether something accepts connections on the socket at path.
func live(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// peerConn is an accepted connection with the kernel's credentials of its peer, read
// once at accept: identity never comes from anything the client sends.
type peerConn struct {
	net.Conn
	cred unix.Ucred
}

// peerListener reads SO_PEERCRED of every accepted connection and enforces the
// connection caps.
type peerListener struct {
	*net.UnixListener
	limits *connLimiter
	// mapUID is Hooks.PeerUID (tests acting as several users), or nil.
	mapUID func(int) int
	log    *slog.Logger
}

// Accept returns the next connection as a *peerConn (wrapped to release its slot on
// close). A connection whose credentials cannot be read, or whose uid is over its cap,
// is closed and skipped: never served anonymously, never left to queue.
func (l peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(c)
		if err != nil {
			c.Close()
			continue
		}
		pc := &peerConn{Conn: c, cred: cred}
		if l.limits == nil {
			return pc, nil
		}
		uid := cred.Uid
		if l.mapUID != nil {
			uid = uint32(l.mapUID(int(uid)))
		}
		if kind, ok := l.limits.tryAcquire(uid); !ok {
			l.limits.refusals.refuse(l.log, kind, uid)
			c.Close()
			continue
		}
		return &limitedConn{peerConn: pc, release: func() { l.limits.release(uid) }}, nil
	}
}

func peerCred(c *net.UnixConn) (unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return unix.Ucred{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return unix.Ucred{}, fmt.Errorf("peer credentials: %w", serr)
	}
	return *cred, nil
}

type credKey struct{}

// connContext puts the connection's peer credentials in every request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := credOf(c); ok {
		return context.WithValue(ctx, credKey{}, pc.cred)
	}
	return ctx
}

// credFrom returns the peer credentials of the request's connection.
func credFrom(ctx context.Context) (unix.Ucred, bool) {
	c, ok := ctx.Value(credKey{}).(unix.Ucred)
	return c, ok
}
