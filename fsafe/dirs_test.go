package fsafe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPrivateDir(t *testing.T) {
	me := os.Geteuid()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) (checked string, euid int)
		wantErr string
	}{
		{"own, 0755", func(t *testing.T, dir string) (string, int) { return chmodDir(t, dir, 0o755), me }, ""},
		{"own, 0700", func(t *testing.T, dir string) (string, int) { return chmodDir(t, dir, 0o700), me }, ""},
		{"group-writable", func(t *testing.T, dir string) (string, int) { return chmodDir(t, dir, 0o770), me }, "writable by group or others (mode 0770)"},
		{"world-writable sticky", func(t *testing.T, dir string) (string, int) { return chmodDir(t, dir, 0o1777), me }, "writable by group or others"},
		{"someone else's", func(t *testing.T, dir string) (string, int) {
			chmodDir(t, dir, 0o755)
			if me == 0 {
				// As root: give the directory away, and check as root.
				if err := os.Chown(dir, 54321, 54321); err != nil {
					t.Fatal(err)
				}
				return dir, 0
			}
			return dir, me + 1 // owned by me, checked for another daemon uid
		}, "is owned by uid"},
		{"a link", func(t *testing.T, dir string) (string, int) {
			link := dir + ".link"
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			return link, me
		}, "is a symbolic link"},
		{"a file", func(t *testing.T, dir string) (string, int) {
			f := filepath.Join(dir, "f")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return f, me
		}, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			checked, euid := tt.prepare(t, dir)
			err := CheckPrivateDir(checked, euid)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func chmodDir(t *testing.T, dir string, perm os.FileMode) string {
	t.Helper()
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}
