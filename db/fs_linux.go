package db

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Filesystem magic numbers (statfs f_type) of network filesystems, on which SQLite's
// locking is unreliable: the CS61C system lost data to exactly this.
var networkFS = map[int64]string{
	0x6969:     "NFS",
	0xFF534D42: "CIFS",
	0xFE534D42: "SMB2",
	0x517B:     "SMB",
	0x65735546: "FUSE",
	0x564c:     "NCP",
	0x5346414F: "AFS",
	0x6B414653: "kAFS",
	0x00C36400: "CephFS",
	0x47504653: "GPFS",
	0x0BD00BD0: "Lustre",
	0x01021997: "9P",
}

// CheckLocalFilesystem refuses a directory on a network filesystem.
func CheckLocalFilesystem(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check filesystem of %s: %w", dir, err)
	}
	return checkFSType(dir, int64(st.Type))
}

func checkFSType(dir string, magic int64) error {
	if name, ok := networkFS[magic]; ok {
		return fmt.Errorf("database directory %s is on a network filesystem (%s); SQLite locking is unreliable there: put broker.database on a local disk", dir, name)
	}
	return nil
}
