package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a process may take to come up.
const startTimeout = 60 * time.Second

// cluster is a simulator process and a daemon process, with everything they write in
// one directory.
type cluster struct {
	t      testing.TB
	dir    string // world-readable root: config, run/, state/, homes
	simURL string
	socket string
	state  string // the daemon's database directory
	secret string // the AWS secret key given to the daemon, a unique marker

	configPath string
	daemonUser account
	daemon     *exec.Cmd
	log        *lockedBuffer // the daemon's stdout and stderr
	outMu      sync.Mutex
	output     bytes.Buffer // every CLI output, for the secret check
}

// clusterOptions configure newCluster.
type clusterOptions struct {
	daemonUser account // the daemon runs as this user
	adminGroup string
	// collectInterval is the daemon's own snapshot interval: short where a test waits for
	// the daemon to see a state change, default (5m) otherwise.
	collectInterval string
}

// newCluster starts `tollgated sim` and `tollgated serve` and stops them when the test
// ends.
func newCluster(t testing.TB, dir string, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{
		t:      t,
		dir:    dir,
		socket: filepath.Join(dir, "run", "tollgate.sock"),
		state:  filepath.Join(dir, "state"),
		secret: "tgSECRETmarker" + suffix(t) + suffix(t),
		log:    &lockedBuffer{},
	}
	for _, d := range []string{filepath.Dir(c.socket), c.state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		chownTree(t, d, o.daemonUser)
	}
	c.simURL = c.startSim()
	cfgPath := filepath.Join(dir, "tollgate.toml")
	c.configPath, c.daemonUser = cfgPath, o.daemonUser
	if err := os.WriteFile(cfgPath, []byte(c.config(o.adminGroup, o.collectInterval)), 0o644); err != nil {
		t.Fatalf("write config: %v", err)
	}
	c.startDaemon(cfgPath, o.daemonUser)
	return c
}

// config is the daemon's configuration: a policy small enough to hit its limits.
func (c *cluster) config(adminGroup, collectInterval string) string {
	q := strconv.Quote
	if collectInterval == "" {
		collectInterval = "5m"
	}
	return `[broker]
socket = ` + q(c.socket) + `
database = ` + q(filepath.Join(c.state, "tollgate.db")) + `
admin_group = ` + q(adminGroup) + `
log_level = "debug"

[accounting]
collect_interval = ` + q(collectInterval) + `

[aws]
regions = ["us-west-2"]
endpoint_url = ` + q(c.simURL) + `

[policy.default]
max_instances = 2
max_vcpus = 8
instance_types = ["t3.micro", "t3.small"]
images = ["ami-0123456789abcdef0"]
regions = ["us-west-2"]
default_lifetime = "1h"
max_lifetime = "4h"
expire_action = "stop"
budget_usd = 100.0
budget_period = "month"
spot = "allowed"
`
}

// startSim runs `tollgated sim` and returns the URL it prints on its first line.
func (c *cluster) startSim() string {
	t := c.t
	t.Helper()
	cmd := exec.Command(bins.tollgated, "sim", "--listen", "127.0.0.1:0", "--clock", "real")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}
	simLog := &lockedBuffer{}
	cmd.Stderr = simLog
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("sim stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sim: %v", err)
	}
	t.Cleanup(func() { stop(t, cmd, "sim", simLog) })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		const prefix = "awssim listening on "
		if !ok || !strings.HasPrefix(line, prefix) {
			t.Fatalf("sim's first line = %q, want %q…; stderr:\n%s", line, prefix, simLog.String())
		}
		return strings.TrimPrefix(line, prefix)
	case <-time.After(startTimeout):
		t.Fatalf("sim did not print its URL within %s; stderr:\n%s", startTimeout, simLog.String())
	}
	return ""
}

// daemonEnv is the daemon's whole environment: the credentials are only here.
func (c *cluster) daemonEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.state,
		"AWS_ACCESS_KEY_ID=AKIATOLLGATEITEST0001",
		"AWS_SECRET_ACCESS_KEY=" + c.secret,
		"EC2_ACCESS_KEY=AKIATOLLGATEITEST0001",
		"EC2_SECRET_KEY=" + c.secret,
		"AWS_REGION=us-west-2",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// startDaemon runs `tollgated serve` as u and waits for its "serving" log line.
func (c *cluster) startDaemon(cfgPath string, u account) {
	t := c.t
	t.Helper()
	args := []string{"serve", "--config", cfgPath}
	if u.uid == 0 {
		// Only the benchmark runs the daemon as root (the tests use a system user).
		args = append(args, "--allow-root")
	}
	cmd := exec.Command(bins.tollgated, args...)
	cmd.Env = c.daemonEnv()
	cmd.SysProcAttr = u.credential()
	cmd.Dir = c.state
	ready := make(chan struct{})
	cmd.Stdout = c.log
	cmd.Stderr = &watcher{w: c.log, needle: "msg=serving", ready: ready}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	c.daemon = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("daemon did not stop on SIGTERM within 15s")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", c.log.String())
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("daemon exited while starting: %v\n%s", err, c.log.String())
	case <-time.After(startTimeout):
		t.Fatalf("daemon not serving within %s:\n%s", startTimeout, c.log.String())
	}
}

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the tollgate binary as a, with a's own home and the cluster's socket.
func (c *cluster) cli(t testing.TB, a account, args ...string) result {
	t.Helper()
	return c.cliIn(t, a, "", args...)
}

// cliIn is cli with stdin.
func (c *cluster) cliIn(t testing.TB, a account, stdin string, args ...string) result {
	t.Helper()
	r, err := c.run(a, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run runs the CLI as a; the error is a failure to run it at all (not an exit status).
// It does not touch t, so a test may run it in another goroutine.
func (c *cluster) run(a account, stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, a, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return c.finish(cmd.Run(), a, args, &out, &errb)
}

// command is the tollgate CLI as a, with a's own home and the cluster's socket.
func (c *cluster) command(ctx context.Context, a account, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bins.tollgate, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + a.home, "USER=" + a.name, "TOLLGATE_SOCKET=" + c.socket}
	cmd.SysProcAttr = a.credential()
	cmd.Dir = a.home
	return cmd
}

// finish records a finished command's output for the secret check and maps its exit.
func (c *cluster) finish(err error, a account, args []string, out, errb *bytes.Buffer) (result, error) {
	r := result{stdout: out.String(), stderr: errb.String()}
	c.outMu.Lock()
	c.output.WriteString(r.stdout)
	c.output.WriteString(r.stderr)
	c.outMu.Unlock()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return r, fmt.Errorf("run tollgate %s as %s: %v", strings.Join(args, " "), a, err)
		}
		r.code = ee.ExitCode()
	}
	return r, nil
}

// ok runs the CLI and fails the test unless it exits 0.
func (c *cluster) ok(t testing.TB, a account, args ...string) result {
	t.Helper()
	r := c.cli(t, a, args...)
	if r.code != 0 {
		t.Fatalf("tollgate %s as %s: exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), a, r.code, r.stdout, r.stderr)
	}
	return r
}

// jsonOK runs the CLI with --json, wants exit 0, and decodes stdout into v.
func (c *cluster) jsonOK(t testing.TB, a account, v any, args ...string) {
	t.Helper()
	r := c.ok(t, a, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("tollgate --json %s: decode %q: %v", strings.Join(args, " "), r.stdout, err)
	}
}

// tollgated runs a one-shot tollgated command (collect, report) as the daemon's user with
// the daemon's environment, and fails the test unless it exits 0. Its output joins the
// daemon's log for the secret check.
func (c *cluster) tollgated(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.tollgated, append([]string{"--config", c.configPath}, args...)...)
	cmd.Env = c.daemonEnv()
	cmd.SysProcAttr = c.daemonUser.credential()
	cmd.Dir = c.state
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	c.log.Write(out.Bytes())
	if err != nil {
		t.Fatalf("tollgated %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// advanceSim moves the simulator's clock (instances leave pending, and so on).
func (c *cluster) advanceSim(t testing.TB, d time.Duration) {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"duration":%q}`, d.String()))
	resp, err := http.Post(c.simURL+"/_sim/clock/advance", "application/json", body)
	if err != nil {
		t.Fatalf("advance sim clock: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("advance sim clock: %s %s", resp.Status, b)
	}
}

// stop ends a process this test started, dumping its log if the test failed.
func stop(t testing.TB, cmd *exec.Cmd, name string, log *lockedBuffer) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	if t.Failed() {
		t.Logf("%s log:\n%s", name, log.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for the writers of two pipes and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watcher passes writes through and closes ready once needle has been written.
type watcher struct {
	w      io.Writer
	needle string
	ready  chan struct{}
	mu     sync.Mutex
	seen   bytes.Buffer
	done   bool
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.done {
		w.seen.Write(p)
		if bytes.Contains(w.seen.Bytes(), []byte(w.needle)) {
			w.done = true
			close(w.ready)
		}
	}
	w.mu.Unlock()
	return w.w.Write(p)
}
