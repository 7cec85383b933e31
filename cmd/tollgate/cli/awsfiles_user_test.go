package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
)

// fakeKeyDaemon answers POST /v1/keys/aws on a unix socket anyone may connect to, and
// counts the requests (a refused write must not have asked for a key).
type fakeKeyDaemon struct {
	sock string
	mu   sync.Mutex
	reqs []api.AWSKeyRequest
}

func startFakeKeyDaemon(t *testing.T, dir string) *fakeKeyDaemon {
	t.Helper()
	d := &fakeKeyDaemon{sock: filepath.Join(dir, "tollgate.sock")}
	ln, err := net.Listen("unix", d.sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.sock, 0o666); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathKeysAWS, func(w http.ResponseWriter, r *http.Request) {
		var req api.AWSKeyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		d.mu.Lock()
		d.reqs = append(d.reqs, req)
		d.mu.Unlock()
		_ = json.NewEncoder(w).Encode(testCreds)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return d
}

func (d *fakeKeyDaemon) requests() []api.AWSKeyRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.AWSKeyRequest(nil), d.reqs...)
}

// buildCLI builds cmd/tollgate into dir (readable and executable by anyone).
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go tool to build the CLI: %v", err)
		}
	}
	bin := filepath.Join(dir, "tollgate")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/tollgate/tollgate/cmd/tollgate").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// testUser is the Unix user the CLI runs as: a fresh one made with useradd when the tests
// run as root (as CI does), else the current user.
type testUser struct {
	name     string
	uid, gid int
	home     string
}

func newTestUser(t *testing.T, base string) testUser {
	t.Helper()
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return testUser{name: "(current)", uid: os.Getuid(), gid: os.Getgid(), home: home}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "tgiam" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	return testUser{name: name, uid: uid, gid: gid, home: home}
}

// run runs the CLI as u with HOME set to u's home.
func (u testUser) run(t *testing.T, bin, sock string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--socket", sock}, args...)...)
	cmd.Env = []string{"HOME=" + u.home, "PATH=/usr/bin:/bin", "LANG=C"}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return 0, out.String(), errb.String()
}

// writeAs writes a file as if the user had: owned by them.
func (u testUser) writeAs(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	writeFile(t, path, data, mode)
	for _, p := range []string{filepath.Dir(path), path} {
		if err := os.Lchown(p, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeysAWSAsUser runs the built CLI as a real Unix user against a fake daemon.
func TestKeysAWSAsUser(t *testing.T) {
	base, err := os.MkdirTemp("", "tollgate-keys-aws-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildCLI(t, base)
	d := startFakeKeyDaemon(t, base)
	u := newTestUser(t, base)
	aws := filepath.Join(u.home, ".aws")
	t.Logf("running the CLI as %s (uid %d)", u.name, u.uid)

	t.Run("fresh home", func(t *testing.T) {
		code, stdout, stderr := u.run(t, bin, d.sock, "keys", "aws")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if strings.Contains(stdout+stderr, testCreds.SecretAccessKey) {
			t.Errorf("the secret was printed")
		}
		checkMode(t, aws, 0o700, u.uid)
		checkMode(t, filepath.Join(aws, "credentials"), 0o600, u.uid)
		checkMode(t, filepath.Join(aws, "config"), 0o600, u.uid)
		if got := readFile(t, filepath.Join(aws, "credentials")); !strings.Contains(got, "aws_secret_access_key = "+testCreds.SecretAccessKey) {
			t.Errorf("credentials file lacks the key: %q", got)
		}
	})

	t.Run("other profiles preserved on rotation", func(t *testing.T) {
		u.writeAs(t, filepath.Join(aws, "credentials"), otherCreds, 0o600)
		u.writeAs(t, filepath.Join(aws, "config"), otherConfig, 0o644)
		code, stdout, stderr := u.run(t, bin, d.sock, "--json", "keys", "aws", "--rotate")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if got := readFile(t, filepath.Join(aws, "credentials")); got != wantCredsFile {
			t.Errorf("credentials =\n%s\nwant\n%s", got, wantCredsFile)
		}
		if got := readFile(t, filepath.Join(aws, "config")); got != wantConfigFile {
			t.Errorf("config =\n%s\nwant\n%s", got, wantConfigFile)
		}
		checkMode(t, filepath.Join(aws, "credentials"), 0o600, u.uid)
		checkMode(t, filepath.Join(aws, "config"), 0o644, u.uid)
		var res keysAWSResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.AccessKeyID != testCreds.AccessKeyID {
			t.Errorf("--json output %q (%v), want the key id", stdout, err)
		}
		if strings.Contains(stdout, testCreds.SecretAccessKey) {
			t.Errorf("--json output holds the secret")
		}
		reqs := d.requests()
		if last := reqs[len(reqs)-1]; !last.Rotate {
			t.Errorf("daemon got rotate=false for --rotate")
		}
	})

	t.Run("planted symlink not followed", func(t *testing.T) {
		victim := filepath.Join(base, "victim")
		writeFile(t, victim, "precious\n", 0o666)
		creds := filepath.Join(aws, "credentials")
		if err := os.Remove(creds); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, creds); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(creds, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
		before := len(d.requests())
		code, _, stderr := u.run(t, bin, d.sock, "keys", "aws", "--rotate")
		if code != ExitFailure || !strings.Contains(stderr, "symlink") {
			t.Errorf("exit %d, stderr %q; want 1 and a word about the symlink", code, stderr)
		}
		if got := readFile(t, victim); got != "precious\n" {
			t.Errorf("symlink target rewritten: %q", got)
		}
		if fi, err := os.Lstat(creds); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symlink itself was replaced")
		}
		if got := len(d.requests()); got != before {
			t.Errorf("a key was requested although it could not be saved")
		}
	})
}
