package broker

import (
	"context"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "run", "t.sock")
			tt.prepare(t, path)
			l, err := listenSocket(path, 0o660)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if fi, err := os.Lstat(path); err != nil {
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

func TestSecondDaemonRefused(t *testing.T) {
	h := newHarness(t)
	_, err := New(context.Background(), Options{Config: h.cfg, Cloud: h.cloud, Users: h.users,
		Accounting: h.acct, IAM: h.iam, Prices: fakePrices{}, Now: h.sim.Now})
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
