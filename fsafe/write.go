package fsafe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultFileMode is the mode of a file WriteFile creates unless told otherwise: reports
// hold everyone's spend, so they are the writer's alone.
const DefaultFileMode = 0o600

// WriteOptions tune WriteFile. The zero value writes a DefaultFileMode file that must,
// if it already exists, belong to the effective uid.
type WriteOptions struct {
	Mode os.FileMode // permission bits of the new file; 0 means DefaultFileMode
	// Owner is the uid an existing file at the path must belong to for WriteFile to
	// replace it; nil means the effective uid. Tests set it to play another user.
	Owner *int
}

// WriteFile writes what write writes to a new file at path and renames it into place,
// never writing into an existing file nor following a symbolic link, so a file written
// to /tmp cannot be redirected by another user: the new file is created with O_CREAT|O_EXCL|O_NOFOLLOW beside the target in its directory (opened
// once, used through its descriptor), synced, and renamed over the target.
//
// It refuses, naming the path and why: a target that exists and is not a regular file
// (a symbolic link, a fifo, a directory), a target owned by another user, and a
// directory that others may write to without the sticky bit (there anyone could swap
// the file after it is written).
func WriteFile(path string, opt WriteOptions, write func(io.Writer) error) error {
	mode := opt.Mode.Perm()
	if mode == 0 {
		mode = DefaultFileMode
	}
	owner := os.Geteuid()
	if opt.Owner != nil {
		owner = *opt.Owner
	}
	dir, name := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if name == "" || name == "." || name == ".." || name == "/" {
		return fmt.Errorf("write %s: not a file name", path)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write %s: open its directory %s: %w", path, dir, err)
	}
	d := &Dir{path: filepath.Clean(dir), fd: fd, uid: owner}
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("write %s: stat its directory %s: %w", path, dir, err)
	}
	if st.Mode&0o002 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("refusing to write %s: its directory %s is writable by everyone (mode %04o) without the sticky bit, so anyone could replace the file", path, d.path, st.Mode&0o7777)
	}
	err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return fmt.Errorf("write %s: %w", path, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("refusing to write %s: it is a symbolic link (remove it or choose another file)", path)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("refusing to write %s: it exists and is not a regular file (%s)", path, fileType(st.Mode))
	case int(st.Uid) != owner:
		return fmt.Errorf("refusing to write %s: it is owned by uid %d, not by you (uid %d)", path, st.Uid, owner)
	}
	return d.ReplaceWith(name, uint32(mode), write)
}

func fileType(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a fifo"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return fmt.Sprintf("type %#o", m&unix.S_IFMT)
}

// WriteNew writes data to path (created with mode) without following a symlink at the
// final component (O_NOFOLLOW); excl also refuses an existing file (O_EXCL), else an
// existing file is truncated. For files in a directory already checked with
// OpenPrivateDir, such as a new SSH key pair in ~/.ssh.
func WriteNew(path string, data []byte, mode os.FileMode, excl bool) error {
	flags := os.O_WRONLY | os.O_CREATE | unix.O_NOFOLLOW
	if excl {
		flags |= os.O_EXCL
	} else {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
