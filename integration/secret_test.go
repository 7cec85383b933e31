package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// checkSecret greps for the daemon's AWS secret key everywhere it must never be: the
// daemon's log, the database files, every CLI output, and every process's argv. First it
// checks the daemon really holds the key, or the search would prove nothing.
func checkSecret(t *testing.T, c *cluster) {
	t.Helper()
	secret := []byte(c.secret)
	env, err := os.ReadFile("/proc/" + itoa(c.daemon.Process.Pid) + "/environ")
	if err != nil {
		t.Fatalf("read the daemon's environment: %v", err)
	}
	if !bytes.Contains(env, secret) {
		t.Fatalf("the daemon's environment lacks the secret marker: the search below would prove nothing")
	}
	if bytes.Contains([]byte(c.log.String()), secret) {
		t.Errorf("the daemon's log holds the secret key")
	}
	if c.log.String() == "" {
		t.Errorf("the daemon's log is empty: nothing was searched")
	}
	c.outMu.Lock()
	out := c.output.Bytes()
	if bytes.Contains(out, secret) {
		t.Errorf("a CLI output holds the secret key")
	}
	if len(out) == 0 {
		t.Errorf("no CLI output was recorded: nothing was searched")
	}
	c.outMu.Unlock()

	files := 0
	err = filepath.Walk(c.state, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(data, secret) {
			t.Errorf("%s holds the secret key", p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the daemon's state: %v", err)
	}
	if files == 0 {
		t.Errorf("no database file in %s: nothing was searched", c.state)
	}

	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(procs) == 0 {
		t.Fatalf("list processes: %v (%d found)", err, len(procs))
	}
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the process exited meanwhile
		}
		if bytes.Contains(data, secret) {
			t.Errorf("%s (argv) holds the secret key: %q", p, data)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// fileUID is the owner of a file (or, for /proc/PID, of a process).
func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
