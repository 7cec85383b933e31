package broker

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenSocket(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{"fresh, directory created", func(t *testing.T, path string) {}, ""},
		{"stale socket removed", func(t *testing.T, path string) {
			os.MkdirAll(filepath.Dir(path), 0o755)
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
		}, ""},
		{"regular file left alone", func(t *testing.T, path string) {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is not a socket"},
		{"live daemon", func(t *testing.T, path string) {
			os.MkdirAll(filepath.Dir(path), 0o755)
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}, "already serving"},
		{"group-writable directory", func(t *testing.T, path string) {
			mkdirMode(t, filepath.Dir(path), 0o775)
		}, "writable by group or others"},
		{"world-writable directory", func(t *testing.T, path string) {
			mkdirMode(t, filepath.Dir(path), 0o1777)
		}, "writable by group or others"},
		{"directory is a link", func(t *testing.T, path string) {
			real := filepath.Join(filepath.Dir(filepath.Dir(path)), "real")
			mkdirMode(t, real, 0o755)
			if err := os.Symlink(real, filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "run", "t.sock")
			tt.prepare(t, path)
			_, preErr := os.Lstat(path)
			l, err := listenSocket(path, 0o660, os.Geteuid())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if fi, err := os.Lstat(path); preErr != nil {
					if err == nil {
						t.Errorf("got a file at the socket path, want none created")
					}
				} else if err != nil {
					t.Errorf("got %v: the file at the socket path must be left alone", err)
				} else if tt.name == "regular file left alone" && !fi.Mode().IsRegular() {
					t.Errorf("got mode %v, want the regular file kept", fi.Mode())
				}
				return
			}
			if err != nil {
				t.Fatalf("listenSocket: %v", err)
			}
			defer l.Close()
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
				t.Errorf("got %v, %v; want a socket of mode 0660", fi.Mode(), err)
			}
		})
	}
}

// mkdirMode creates dir with exactly perm (the umask aside).
func mkdirMode(t *testing.T, dir string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
}

// TestChmodSocketFollowsNoLink is the review's finding #9: a link swapped in for the
// socket between ListenUnix and the chmod must not hand its mode to the link's target.
func TestChmodSocketFollowsNoLink(t *testing.T) {
	dir := shortDir(t)
	target := filepath.Join(dir, "tollgate.db")
	if err := os.WriteFile(target, []byte("db"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "t.sock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := chmodSocket(link, 0o666); err == nil {
		t.Errorf("got no error, want the link refused")
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("got target mode %v (%v), want 0600 untouched", fi.Mode(), err)
	}
	t.Run("regular file refused", func(t *testing.T) {
		if err := chmodSocket(target, 0o666); err == nil || !strings.Contains(err.Error(), "no longer a socket") {
			t.Errorf("got %v, want a refusal", err)
		}
	})
}

func TestSecondDaemonRefused(t *testing.T) {
	h := newHarness(t)
	_, err := Listen(h.cfg.Broker)
	if err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Fatalf("got %v, want a refusal naming the live daemon", err)
	}
	if _, err := h.c.WhoAmI(h.ctx); err != nil {
		t.Errorf("the first daemon must keep serving: %v", err)
	}
}

func TestRestartAfterGracefulStop(t *testing.T) {
	h := newHarness(t)
	h.shutdown()
	if _, err := os.Lstat(h.cfg.Broker.Socket); err == nil {
		// A leftover socket is fine as long as the next start removes it.
		t.Log("socket left behind after shutdown")
	}
	h.start()
	if _, err := h.c.WhoAmI(h.ctx); err != nil {
		t.Errorf("after restart: %v", err)
	}
}
