package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/tollgate/tollgate"
)

// AWS shared files the CLI writes, as the user, under $HOME.
const (
	AWSDir          = ".aws"
	AWSCredentials  = "credentials"
	AWSConfig       = "config"
	AWSProfile      = "tollgate"         // [tollgate] in credentials
	awsConfigHeader = "profile tollgate" // [profile tollgate] in config
	maxAWSFile      = 1 << 20
)

// awsFiles is an open ~/.aws: every file operation goes through the directory's
// descriptor (openat, renameat), so once the directory has been checked nobody can swap
// it or redirect a name in it through a symlink.
type awsFiles struct {
	dir  string // for messages only
	fd   int
	euid int
}

// openAWSDir opens home/.aws, creating it 0700 if missing. It refuses a symlink, a
// directory owned by someone else, and one that others can write to.
func openAWSDir(home string) (*awsFiles, error) {
	if home == "" {
		return nil, errors.New("cannot find your home directory (set HOME)")
	}
	dir := filepath.Join(home, AWSDir)
	fd, err := openPrivateDir(dir)
	if err != nil {
		return nil, err
	}
	return &awsFiles{dir: dir, fd: fd, euid: os.Geteuid()}, nil
}

// openPrivateDir opens dir (creating it 0700 if missing) and returns its descriptor. It
// refuses a symlink, a directory owned by someone other than the caller, and one that
// others can write to: in such a directory another user could plant or swap the files
// we are about to write (credentials, private keys).
func openPrivateDir(dir string) (int, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return -1, fmt.Errorf("create %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("%s is a symlink or not a directory; refusing to write through it", dir)
		}
		return -1, fmt.Errorf("open %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat %s: %w", dir, err)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is owned by uid %d, not by you (uid %d); refusing to write there", dir, st.Uid, euid)
	}
	if st.Mode&0o022 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is writable by others (mode %04o); run 'chmod go-w %s'", dir, st.Mode&0o7777, dir)
	}
	return fd, nil
}

func (f *awsFiles) close() { _ = unix.Close(f.fd) }

// read returns the file's content and permission bits; a missing file is empty with
// mode 0. It refuses a symlink (O_NOFOLLOW), anything but a regular file, and a file
// owned by someone else.
func (f *awsFiles) read(name string) ([]byte, uint32, error) {
	path := filepath.Join(f.dir, name)
	fd, err := unix.Openat(f.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
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
	if int(st.Uid) != f.euid {
		return nil, 0, fmt.Errorf("%s is owned by uid %d, not by you (uid %d)", path, st.Uid, f.euid)
	}
	data, err := io.ReadAll(io.LimitReader(file, maxAWSFile+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxAWSFile {
		return nil, 0, fmt.Errorf("%s is larger than %d bytes", path, maxAWSFile)
	}
	return data, st.Mode & 0o777, nil
}

// replace atomically replaces name with data: a new file (O_EXCL, O_NOFOLLOW, mode)
// written and synced beside it, then renamed over it, so a crash leaves the old or the
// new file, never half of one, and a symlink at name is replaced, not followed.
func (f *awsFiles) replace(name string, data []byte, mode uint32) error {
	path := filepath.Join(f.dir, name)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + name + ".tollgate-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(f.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("create a temporary file in %s: %w", f.dir, err)
	}
	file := os.NewFile(uintptr(fd), filepath.Join(f.dir, tmp))
	err = func() error {
		if err := unix.Fchmod(fd, mode); err != nil { // exactly mode, whatever the umask
			return err
		}
		if _, err := file.Write(data); err != nil {
			return err
		}
		return file.Sync()
	}()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(f.fd, tmp, f.fd, name)
	}
	if err != nil {
		_ = unix.Unlinkat(f.fd, tmp, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	_ = unix.Fsync(f.fd)
	return nil
}

// checkAWSFiles makes sure the credentials can be saved before a key is asked for: the
// daemon shows a secret only once.
func checkAWSFiles(home string) error {
	f, err := openAWSDir(home)
	if err != nil {
		return err
	}
	defer f.close()
	for _, name := range []string{AWSCredentials, AWSConfig} {
		if _, _, err := f.read(name); err != nil {
			return err
		}
	}
	return nil
}

// writeAWSFiles writes profile [tollgate] into ~/.aws/credentials (always mode 0600) and
// [profile tollgate] with the region into ~/.aws/config (its mode kept, 0600 when new),
// leaving every other profile byte for byte. It returns the two paths.
func writeAWSFiles(home string, c tollgate.Credentials) (credPath, cfgPath string, err error) {
	f, err := openAWSDir(home)
	if err != nil {
		return "", "", err
	}
	defer f.close()
	creds, _, err := f.read(AWSCredentials)
	if err != nil {
		return "", "", err
	}
	cfg, cfgMode, err := f.read(AWSConfig)
	if err != nil {
		return "", "", err
	}
	if cfgMode == 0 {
		cfgMode = 0o600
	}
	creds = setINISection(creds, AWSProfile, "["+AWSProfile+"]", []string{
		"aws_access_key_id = " + c.AccessKeyID,
		"aws_secret_access_key = " + c.SecretAccessKey,
	})
	if err := f.replace(AWSCredentials, creds, 0o600); err != nil {
		return "", "", err
	}
	var body []string
	if c.Region != "" {
		body = append(body, "region = "+c.Region)
	}
	cfg = setINISection(cfg, awsConfigHeader, "["+awsConfigHeader+"]", body)
	if err := f.replace(AWSConfig, cfg, cfgMode); err != nil {
		return "", "", err
	}
	return filepath.Join(f.dir, AWSCredentials), filepath.Join(f.dir, AWSConfig), nil
}
