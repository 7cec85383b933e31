package fsafe

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	pointee := filepath.Join(dir, "victim")
	if err := os.WriteFile(pointee, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "report.csv")
	if err := os.Symlink(pointee, target); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(target, WriteOptions{}, writeString("spend"))
	if err == nil || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("got %v, want a refusal naming %s as a symbolic link", err, target)
	}
	if got := mustRead(t, pointee); got != "precious" {
		t.Errorf("pointee holds %q, want it untouched", got)
	}
	if fi, err := os.Lstat(target); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced or removed: %v %v", fi, err)
	}
	// A dangling link is refused too (it would otherwise create the pointee).
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "created-through-link"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dangling, WriteOptions{}, writeString("x")); err == nil {
		t.Errorf("a dangling link: got no error")
	}
	if _, err := os.Lstat(filepath.Join(dir, "created-through-link")); err == nil {
		t.Errorf("a file was created through the dangling link")
	}
}

func TestWriteFileRefusesFifo(t *testing.T) {
	target := filepath.Join(t.TempDir(), "report.csv")
	if err := syscall.Mkfifo(target, 0o666); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(target, WriteOptions{}, writeString("x"))
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("got %v, want a refusal of a fifo", err)
	}
}

func TestWriteFileRefusesOtherOwner(t *testing.T) {
	t.Run("owner check", func(t *testing.T) {
		// Injected owner: the file is ours, but WriteFile is told to accept only another
		// uid's, so this runs the same check as root or not.
		target := filepath.Join(t.TempDir(), "report.csv")
		if err := os.WriteFile(target, []byte("old"), 0o666); err != nil {
			t.Fatal(err)
		}
		other := os.Geteuid() + 1
		err := WriteFile(target, WriteOptions{Owner: &other}, writeString("spend"))
		if err == nil || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "owned by uid") {
			t.Errorf("got %v, want a refusal naming %s and its owner", err, target)
		}
		if got := mustRead(t, target); got != "old" {
			t.Errorf("file holds %q, want it untouched", got)
		}
	})
	t.Run("chowned to nobody", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Log("not root: cannot chown; the injected owner check above covers this case")
			return
		}
		dir := t.TempDir()
		if err := syscall.Chmod(dir, 0o1777); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "report.csv")
		if err := os.WriteFile(target, []byte("old"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(target, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		err := WriteFile(target, WriteOptions{}, writeString("spend"))
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("got %v, want a refusal of a file owned by uid 65534", err)
		}
		if got := mustRead(t, target); got != "old" {
			t.Errorf("file holds %q, want it untouched", got)
		}
	})
}

func TestWriteFileRefusesOpenDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(filepath.Join(dir, "r.csv"), WriteOptions{}, writeString("x"))
	if err == nil || !strings.Contains(err.Error(), "sticky") {
		t.Errorf("got %v, want a refusal of a world-writable directory without the sticky bit", err)
	}
	if err := syscall.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "r.csv"), WriteOptions{}, writeString("x")); err != nil {
		t.Errorf("sticky world-writable directory (like /tmp): got %v, want no error", err)
	}
}

func TestWriteFileMode(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0) // the mode must not depend on the umask
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{"default", 0, 0o600},
		{"asked", 0o640, 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(dir, tc.name)
			if err := WriteFile(target, WriteOptions{Mode: tc.mode}, writeString("x")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(target)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode %04o, want %04o", got, tc.want)
			}
		})
	}
	// A pre-existing 0666 file is replaced by a new 0600 one, not filled in place.
	target := filepath.Join(dir, "open")
	if err := os.WriteFile(target, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, WriteOptions{}, writeString("x")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced 0666 file has mode %04o, want 0600", fi.Mode().Perm())
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(target, []byte("old report"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(target) // the old file, as a reader who opened it earlier sees it
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := WriteFile(target, WriteOptions{}, writeString("new")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, target); got != "new" {
		t.Errorf("target holds %q, want %q", got, "new")
	}
	old, _ := io.ReadAll(held)
	if string(old) != "old report" {
		t.Errorf("the old file was written in place (%q): want a new file renamed over it", old)
	}
	// A failed write leaves the old file and no temporary file.
	boom := func(w io.Writer) error { io.WriteString(w, "half"); return io.ErrUnexpectedEOF }
	if err := WriteFile(target, WriteOptions{}, boom); err == nil {
		t.Errorf("a failing writer: got no error")
	}
	if got := mustRead(t, target); got != "new" {
		t.Errorf("after a failed write target holds %q, want %q", got, "new")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1 (no temporary left)", len(ents))
	}
}
