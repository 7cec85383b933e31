package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// account is a Unix user the CLI (or the daemon) runs as. current means "this process's
// own user": no credential switch.
type account struct {
	name    string
	uid     int
	gid     int
	home    string
	current bool
}

// credential is the SysProcAttr that makes a child run as a.
func (a account) credential() *syscall.SysProcAttr {
	if a.current {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}}
}

// suffix is a random tag for names that must not collide with real users or earlier runs.
func suffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// sh runs an administrative command (useradd, groupadd, ...) and fails the test on error.
func sh(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// addGroup creates a Unix group, removed when the test ends (after its members).
func addGroup(t testing.TB, name string) {
	t.Helper()
	sh(t, "groupadd", name)
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v\n%s", name, err, out)
		}
	})
}

// addUser creates a Unix user with a home under root (mode 0700, owned by the user),
// in the given supplementary groups; removed when the test ends.
func addUser(t testing.TB, name, root string, system bool, groups ...string) account {
	t.Helper()
	home := filepath.Join(root, name)
	args := []string{"--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin"}
	if system {
		args = append(args, "--system", "--user-group")
	}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	sh(t, "useradd", append(args, name)...)
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up new user %s: %v", name, err)
	}
	a := account{name: name, home: home}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatalf("home of %s: %v", name, err)
	}
	if err := os.Chown(home, a.uid, a.gid); err != nil {
		t.Fatalf("chown home of %s: %v", name, err)
	}
	return a
}

// me is the current user as an account, with a throw-away home so tests never touch
// the developer's real ~/.ssh.
func me(t testing.TB, root string) account {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	a := account{name: u.Username, home: filepath.Join(root, "home-"+u.Username), current: true}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	if err := os.MkdirAll(a.home, 0o700); err != nil {
		t.Fatalf("home: %v", err)
	}
	return a
}

// primaryGroup is the name of a's primary group.
func primaryGroup(t testing.TB, a account) string {
	t.Helper()
	g, err := user.LookupGroupId(strconv.Itoa(a.gid))
	if err != nil {
		t.Fatalf("primary group of %s: %v", a.name, err)
	}
	return g.Name
}

// chownTree gives dir and everything in it to a (no-op for the current user).
func chownTree(t testing.TB, dir string, a account) {
	t.Helper()
	if a.current {
		return
	}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, a.uid, a.gid)
	})
	if err != nil {
		t.Fatalf("chown %s to %s: %v", dir, a.name, err)
	}
}

func (a account) String() string { return fmt.Sprintf("%s(uid %d)", a.name, a.uid) }
