package fsafe

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Dir is an open directory: every file operation goes through its descriptor (openat,
// renameat), so once the directory has been checked nobody can swap it or redirect a
// name in it through a symlink.
type Dir struct {
	path string // for messages only
	fd   int
	uid  int // the owner files read through it must have
}

// OpenPrivateDir opens dir (creating it 0700 if missing). It refuses a symlink, a
// directory owned by someone other than the caller (the effective uid), and one that
// others can write to: in such a directory another user could plant or swap the files
// we are about to write (credentials, private keys).
func OpenPrivateDir(dir string) (*Dir, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%s is a symlink or not a directory; refusing to write through it", dir)
		}
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat %s: %w", dir, err)
	}
	euid := os.Geteuid()
	if int(st.Uid) != euid {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is owned by uid %d, not by you (uid %d); refusing to write there", dir, st.Uid, euid)
	}
	if st.Mode&0o022 != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is writable by others (mode %04o); run 'chmod go-w %s'", dir, st.Mode&0o7777, dir)
	}
	return &Dir{path: dir, fd: fd, uid: euid}, nil
}

// Path is the directory's path as opened.
func (d *Dir) Path() string { return d.path }

// Close closes the directory's descriptor.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// ReadFile returns the content and permission bits of name in d; a missing file is
// empty with mode 0. It refuses a symlink (O_NOFOLLOW), anything but a regular file, a
// file owned by someone else and one larger than max bytes.
func (d *Dir) ReadFile(name string, max int64) ([]byte, uint32, error) {
	path := filepath.Join(d.path, name)
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, 0, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, 0, fmt.Errorf("%s is a symlink; refusing to follow it (replace it with a regular file)", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), path)
	defer file.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	if int(st.Uid) != d.uid {
		return nil, 0, fmt.Errorf("%s is owned by uid %d, not by you (uid %d)", path, st.Uid, d.uid)
	}
	data, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, 0, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, st.Mode & 0o777, nil
}

// Replace atomically replaces name in d with data; see ReplaceWith.
func (d *Dir) Replace(name string, data []byte, mode uint32) error {
	return d.ReplaceWith(name, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ReplaceWith atomically replaces name in d with what write writes: a new file
// (O_CREAT|O_EXCL|O_NOFOLLOW, exactly mode whatever the umask) written and synced
// beside it, then renamed over it, so a crash leaves the old or the new file, never
// half of one, and a symlink at name is replaced, not followed.
func (d *Dir) ReplaceWith(name string, mode uint32, write func(io.Writer) error) error {
	path := filepath.Join(d.path, name)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + name + ".tollgate-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("create a temporary file in %s: %w", d.path, err)
	}
	file := os.NewFile(uintptr(fd), filepath.Join(d.path, tmp))
	err = func() error {
		if err := unix.Fchmod(fd, mode); err != nil {
			return err
		}
		if err := write(file); err != nil {
			return err
		}
		return file.Sync()
	}()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d.fd, tmp, d.fd, name)
	}
	if err != nil {
		_ = unix.Unlinkat(d.fd, tmp, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	_ = unix.Fsync(d.fd)
	return nil
}
