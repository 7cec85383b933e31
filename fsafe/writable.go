package fsafe

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Writable refuses a directory this process cannot create files in (SQLite needs that
// for its journal), naming the directory and the process's user, so the problem is said
// before a library fails less clearly.
func Writable(dir string) error {
	if err := syscall.Access(dir, 0x2 /* W_OK */); err != nil {
		return fmt.Errorf("directory %s is not writable by %s: %v (make it that user's, on a writable local file system)", dir, Whoami(), err)
	}
	return nil
}

// Whoami names the process's effective user: "user NAME (uid N)", or "uid N".
func Whoami() string {
	uid := os.Geteuid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("user %s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}
