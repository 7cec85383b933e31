// Package fsafe holds tollgate's filesystem trust checks in one place: who owns a
// directory or file, who may write to it, that a name is not a symbolic link, and the
// write-a-new-file-then-rename pattern through a directory descriptor (openat,
// O_NOFOLLOW, O_EXCL, renameat), so that no other local user can redirect what tollgate
// or the tollgate CLI reads or writes. The daemon uses it for its socket and database
// directories, the CLI for ~/.aws and ~/.ssh, and both for report files.
package fsafe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckPrivateDir refuses a directory the daemon cannot trust with its socket or its
// database: one that is a symbolic link or not a directory, one owned by anyone but euid
// (the daemon's effective uid) or root, or one that group or others may write. In such
// a directory another user could swap the socket or the database for a link between the
// daemon's check and its use.
func CheckPrivateDir(dir string, euid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("directory %s is a symbolic link: give its real path", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check directory %s: no owner information", dir)
	}
	if owner := int(st.Uid); owner != euid && owner != 0 {
		return fmt.Errorf("directory %s is owned by uid %d, not by the daemon's uid %d or root: chown it to the daemon's user", dir, owner, euid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %04o): run chmod go-w %s", dir, perm, dir)
	}
	return nil
}

// PrepareDir creates dir (and missing parents, mode perm) if it is missing and then
// checks it with CheckPrivateDir.
func PrepareDir(dir string, perm os.FileMode, euid int) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return CheckPrivateDir(filepath.Clean(dir), euid)
}

// CheckRegularIfExists refuses any of paths that exists as anything but a regular file
// (a symbolic link, a fifo, a directory): what, e.g. "database file", names them in
// the error. A missing path is fine.
func CheckRegularIfExists(what string, paths ...string) error {
	for _, f := range paths {
		fi, err := os.Lstat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("check %s %s: %w", what, f, err)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s %s is not a regular file (%s): refusing to open it", what, f, fi.Mode().Type())
		}
	}
	return nil
}
