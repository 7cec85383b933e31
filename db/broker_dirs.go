package db

import (
	"github.com/tollgate/tollgate/fsafe"
)

// CheckDBFiles refuses a database path (or its -wal and -shm files) that exists as
// anything but a regular file: a symbolic link there would have the daemon open, and
// chmod, a file it was pointed at.
func CheckDBFiles(path string) error {
	return fsafe.CheckRegularIfExists("database file", path, path+"-wal", path+"-shm")
}
