package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/broker/api"
)

// worldDir is a directory every test user can traverse, removed at the end.
func worldDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tollgate-it-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod %s: %v", dir, err)
	}
	return dir
}

// TestGate runs the gate end to end. As root it creates real Unix users and runs the CLI
// under their own uids (the daemon under its own system user); otherwise it runs the
// single-user part as the current user, who is the admin.
func TestGate(t *testing.T) {
	dir := worldDir(t)
	if isRoot() {
		testMultiUser(t, dir)
		return
	}
	t.Log("not root: running the single-user part only; the multi-user part (other uids, isolation, enrolment refusal) needs root to create Unix users")
	testSingleUser(t, dir)
}

func testMultiUser(t *testing.T, dir string) {
	sfx := suffix(t)
	adminGroup := "tollgate-admin-" + sfx
	addGroup(t, adminGroup)
	homes := filepath.Join(dir, "home")
	if err := os.MkdirAll(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	daemonUser := addUser(t, "tollgate-d-"+sfx, homes, true)
	alice := addUser(t, "tg-alice-"+sfx, homes, false)
	bob := addUser(t, "tg-bob-"+sfx, homes, false)
	admin := addUser(t, "tg-admin-"+sfx, homes, false, adminGroup)
	eve := addUser(t, "tg-eve-"+sfx, homes, false)
	carol := addUser(t, "tg-carol-"+sfx, homes, false)

	c := newCluster(t, dir, clusterOptions{daemonUser: daemonUser, adminGroup: adminGroup, collectInterval: "2s"})
	assertDaemonUser(t, c, daemonUser)

	t.Run("admin enrols users", func(t *testing.T) {
		c.ok(t, admin, "admin", "users", "add", alice.name, bob.name, "--group", "it")
		var list api.UserList
		c.jsonOK(t, admin, &list, "admin", "users", "ls")
		got := userNames(list.Users)
		for _, want := range []string{alice.name, bob.name} {
			if !slices.Contains(got, want) {
				t.Errorf("admin users ls = %v, want it to hold %s", got, want)
			}
		}
		if slices.Contains(got, eve.name) {
			t.Errorf("admin users ls = %v, holds %s who was never enrolled", got, eve.name)
		}
	})

	t.Run("a roster with a bad line imports nothing", func(t *testing.T) {
		roster := carol.name + ",sec-1\nNot A User,sec-1\n" + eve.name + ",sec-2,extra\n"
		r := c.cliIn(t, admin, roster, "admin", "users", "import", "-")
		if r.code != 1 {
			t.Fatalf("import of a bad roster: exit %d, want 1\nstderr: %s", r.code, r.stderr)
		}
		for _, want := range []string{"stdin:2:", "stdin:3:", "nothing imported"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("import of a bad roster: stderr = %q, want it to contain %q", r.stderr, want)
			}
		}
		var list api.UserList
		c.jsonOK(t, admin, &list, "admin", "users", "ls")
		if got := userNames(list.Users); slices.Contains(got, carol.name) {
			t.Errorf("after a refused import, users = %v, holds %s", got, carol.name)
		}
	})

	t.Run("a good roster imports", func(t *testing.T) {
		r := c.cliIn(t, admin, "username,group\n"+carol.name+",sec-1\n", "admin", "users", "import", "-")
		if r.code != 0 {
			t.Fatalf("import: exit %d, want 0\nstderr: %s", r.code, r.stderr)
		}
		var list api.UserList
		c.jsonOK(t, admin, &list, "admin", "users", "ls")
		if got := userNames(list.Users); !slices.Contains(got, carol.name) {
			t.Errorf("after import, users = %v, want %s", got, carol.name)
		}
	})

	t.Run("keys ssh uploads only the public key", func(t *testing.T) {
		for _, u := range []account{alice, bob} {
			c.ok(t, u, "keys", "ssh")
			assertPrivateKey(t, u)
		}
	})

	var a1, a2, b1 string
	t.Run("launches within quota succeed", func(t *testing.T) {
		a1 = launchOne(t, c, alice, "--type", "t3.micro", "--name", "a1")
		a2 = launchOne(t, c, alice, "--name", "a2", "--lifetime", "2h")
		b1 = launchOne(t, c, bob, "--name", "b1")
	})

	t.Run("launch past max_instances exits 1 naming the limit", func(t *testing.T) {
		r := c.cli(t, alice, "launch", "--name", "a3")
		if r.code != 1 {
			t.Fatalf("third launch: exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "max_instances") {
			t.Errorf("third launch: stderr = %q, want it to name max_instances", r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "tollgate: ") {
			t.Errorf("third launch: stderr = %q, want it to start with %q", r.stderr, "tollgate: ")
		}
	})

	t.Run("usage error exits 2", func(t *testing.T) {
		if r := c.cli(t, alice, "launch", "--count", "many"); r.code != 2 {
			t.Errorf("launch --count many: exit %d, want 2 (stderr %q)", r.code, r.stderr)
		}
	})

	t.Run("another user can neither see nor stop nor terminate it", func(t *testing.T) {
		var list api.InstanceList
		c.jsonOK(t, bob, &list, "ls")
		got := instanceIDs(list.Instances)
		if slices.Contains(got, a1) || slices.Contains(got, a2) {
			t.Errorf("%s's ls = %v, holds %s's instances %s, %s", bob.name, got, alice.name, a1, a2)
		}
		if !slices.Contains(got, b1) {
			t.Errorf("%s's ls = %v, want their own %s", bob.name, got, b1)
		}
		for _, args := range [][]string{{"stop", a1}, {"terminate", a1}, {"extend", a1, "1h"}, {"start", a1}} {
			if r := c.cli(t, bob, args...); r.code != 1 {
				t.Errorf("%s's %v: exit %d, want 1 (stdout %q, stderr %q)", bob.name, args, r.code, r.stdout, r.stderr)
			}
		}
		var mine api.InstanceList
		c.jsonOK(t, alice, &mine, "ls")
		in, ok := find(mine.Instances, a1)
		if !ok {
			t.Fatalf("%s's ls = %v, lost %s", alice.name, instanceIDs(mine.Instances), a1)
		}
		if in.State != "pending" && in.State != "running" {
			t.Errorf("%s is %s after %s's attempts, want pending or running", a1, in.State, bob.name)
		}
		if in.Owner != alice.name {
			t.Errorf("%s's owner = %q, want %q", a1, in.Owner, alice.name)
		}
	})

	t.Run("an admin raises one user's limit", func(t *testing.T) {
		var list api.UserList
		c.jsonOK(t, admin, &list, "admin", "users", "set", alice.name, "--max-instances", "3")
		if len(list.Users) != 1 || list.Users[0].Override.MaxInstances == nil || *list.Users[0].Override.MaxInstances != 3 {
			t.Fatalf("users set = %+v, want max_instances 3", list.Users)
		}
		launchOne(t, c, alice, "--name", "a3")
		if r := c.cli(t, alice, "launch", "--name", "a4"); r.code != 1 || !strings.Contains(r.stderr, "max_instances is 3") {
			t.Errorf("fourth launch: exit %d, stderr %q; want 1 naming max_instances is 3", r.code, r.stderr)
		}
	})

	t.Run("a disabled user is refused until re-enabled", func(t *testing.T) {
		c.ok(t, admin, "admin", "users", "disable", bob.name)
		r := c.cli(t, bob, "ls")
		if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "disabled") {
			t.Errorf("disabled %s's ls: exit %d, stderr %q; want 1 saying disabled", bob.name, r.code, r.stderr)
		}
		c.ok(t, admin, "admin", "users", "disable", "--enable", bob.name)
		c.ok(t, bob, "ls")
	})

	t.Run("an admin removes a user", func(t *testing.T) {
		c.ok(t, admin, "admin", "users", "rm", carol.name)
		var list api.UserList
		c.jsonOK(t, admin, &list, "admin", "users", "ls")
		if got := userNames(list.Users); slices.Contains(got, carol.name) {
			t.Errorf("after rm, users = %v, still holds %s", got, carol.name)
		}
		if r := c.cli(t, carol, "ls"); r.code != 1 {
			t.Errorf("removed %s's ls: exit %d, want 1", carol.name, r.code)
		}
	})

	t.Run("a user who is not enrolled is refused", func(t *testing.T) {
		for _, args := range [][]string{{"ls"}, {"launch", "--name", "e1"}} {
			r := c.cli(t, eve, args...)
			if r.code != 1 {
				t.Errorf("%s's %v: exit %d, want 1", eve.name, args, r.code)
			}
			if !strings.Contains(strings.ToLower(r.stderr), "enrol") {
				t.Errorf("%s's %v: stderr = %q, want it to say they are not enrolled", eve.name, args, r.stderr)
			}
		}
	})

	t.Run("a user is refused admin commands", func(t *testing.T) {
		if r := c.cli(t, alice, "admin", "instances", "ls"); r.code != 1 {
			t.Errorf("%s's admin instances ls: exit %d, want 1", alice.name, r.code)
		}
	})

	t.Run("an admin sees everyone's", func(t *testing.T) {
		var list api.InstanceList
		c.jsonOK(t, admin, &list, "admin", "instances", "ls")
		for id, owner := range map[string]string{a1: alice.name, a2: alice.name, b1: bob.name} {
			in, ok := find(list.Instances, id)
			if !ok {
				t.Errorf("admin instances ls = %v, want %s", instanceIDs(list.Instances), id)
				continue
			}
			if in.Owner != owner {
				t.Errorf("admin instances ls: %s owner = %q, want %q", id, in.Owner, owner)
			}
		}
	})

	t.Run("launch --wait shows progress until running", func(t *testing.T) { launchWait(t, c, bob) })

	t.Run("an admin terminates anyone's", func(t *testing.T) {
		var resp api.ActionResponse
		c.jsonOK(t, admin, &resp, "admin", "instances", "terminate", b1)
		if len(resp.Results) != 1 || resp.Results[0].Error != nil {
			t.Errorf("admin terminate %s = %+v, want one success", b1, resp.Results)
		}
	})

	t.Run("the audit log records the refusals", func(t *testing.T) {
		var audit api.AuditList
		c.jsonOK(t, admin, &audit, "admin", "audit", "--limit", "500")
		refused := 0
		for _, e := range audit.Entries {
			if e.Decision == "refused" && (e.Actor == alice.name || e.Actor == bob.name || e.Actor == eve.name) {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("audit holds %d entries and no refusal of %s, %s or %s", len(audit.Entries), alice.name, bob.name, eve.name)
		}
	})

	t.Run("an admin reads the spend report", func(t *testing.T) { checkReport(t, c, admin) })

	t.Run("the secret key never leaks", func(t *testing.T) { checkSecret(t, c) })
}

func testSingleUser(t *testing.T, dir string) {
	self := me(t, dir)
	c := newCluster(t, dir, clusterOptions{daemonUser: self, adminGroup: primaryGroup(t, self), collectInterval: "2s"})

	t.Run("admin enrols themself", func(t *testing.T) {
		c.ok(t, self, "admin", "users", "add", self.name)
	})
	t.Run("keys ssh", func(t *testing.T) {
		c.ok(t, self, "keys", "ssh")
		assertPrivateKey(t, self)
	})
	var ids []string
	t.Run("launches within quota succeed", func(t *testing.T) {
		ids = append(ids, launchOne(t, c, self, "--name", "s1"), launchOne(t, c, self, "--name", "s2"))
	})
	t.Run("launch past max_instances exits 1 naming the limit", func(t *testing.T) {
		r := c.cli(t, self, "launch", "--name", "s3")
		if r.code != 1 || !strings.Contains(r.stderr, "max_instances") {
			t.Errorf("third launch: exit %d, stderr %q; want 1 naming max_instances", r.code, r.stderr)
		}
	})
	t.Run("usage error exits 2", func(t *testing.T) {
		if r := c.cli(t, self, "launch", "--count", "many"); r.code != 2 {
			t.Errorf("launch --count many: exit %d, want 2", r.code)
		}
	})
	t.Run("an admin sees them", func(t *testing.T) {
		var list api.InstanceList
		c.jsonOK(t, self, &list, "admin", "instances", "ls")
		for _, id := range ids {
			if _, ok := find(list.Instances, id); !ok {
				t.Errorf("admin instances ls = %v, want %s", instanceIDs(list.Instances), id)
			}
		}
	})
	t.Run("terminate", func(t *testing.T) {
		if len(ids) == 0 {
			t.Fatal("nothing launched")
		}
		c.ok(t, self, "terminate", ids[0])
	})
	t.Run("launch --wait shows progress until running", func(t *testing.T) { launchWait(t, c, self) })
	t.Run("an admin reads the spend report", func(t *testing.T) { checkReport(t, c, self) })
	t.Run("the secret key never leaks", func(t *testing.T) { checkSecret(t, c) })
}

// checkReport collects and asks for the spend report in every format, through the daemon
// and straight from the database (tollgated collect and report, as cron would run them).
func checkReport(t *testing.T, c *cluster, admin account) {
	t.Helper()
	c.ok(t, admin, "admin", "collect")
	if out := c.tollgated(t, "collect"); !strings.Contains(out, "collected") {
		t.Errorf("tollgated collect printed %q, want a summary", out)
	}
	if out := c.tollgated(t, "report", "--format", "csv", "--by", "user"); !strings.Contains(out, ",") {
		t.Errorf("tollgated report --format csv printed %q, want CSV", out)
	}
	for _, format := range []string{"table", "csv", "json", "html"} {
		r := c.ok(t, admin, "admin", "report", "--format", format, "--by", "user")
		if strings.TrimSpace(r.stdout) == "" {
			t.Errorf("admin report --format %s printed nothing", format)
		}
	}
}

// launchWait launches one instance with --wait and, once the CLI reports it pending,
// moves the simulator's clock past its pending time; the CLI must then report it running
// (as soon as the daemon has seen it so).
func launchWait(t *testing.T, c *cluster, u account) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"--json", "launch", "--name", "waited", "--wait", "--wait-timeout", "90s"}
	cmd := c.command(ctx, u, args...)
	var out, errb bytes.Buffer
	pending := make(chan struct{})
	cmd.Stdout = &out
	cmd.Stderr = &watcher{w: &errb, needle: " pending", ready: pending}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start launch --wait: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case <-pending:
		c.advanceSim(t, 2*time.Minute)
		err = <-exited
	case err = <-exited:
	}
	r, ferr := c.finish(err, u, args, &out, &errb)
	if ferr != nil {
		t.Fatal(ferr)
	}
	if r.code != 0 {
		t.Fatalf("launch --wait: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var resp api.LaunchResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("launch --wait: decode %q: %v", r.stdout, err)
	}
	if len(resp.Instances) != 1 || resp.Instances[0].State != "running" {
		t.Errorf("launch --wait = %+v, want one running instance", resp.Instances)
	}
	if !strings.Contains(r.stderr, " pending") || !strings.Contains(r.stderr, " running") {
		t.Errorf("launch --wait: stderr = %q, want progress from pending to running", r.stderr)
	}
}

// launchOne launches one instance as u and returns its id.
func launchOne(t testing.TB, c *cluster, u account, args ...string) string {
	t.Helper()
	var resp api.LaunchResponse
	c.jsonOK(t, u, &resp, append([]string{"launch"}, args...)...)
	if len(resp.Instances) != 1 {
		t.Fatalf("launch %v as %s: %d instances, want 1", args, u, len(resp.Instances))
	}
	in := resp.Instances[0]
	if in.Owner != u.name {
		t.Errorf("launch as %s: owner = %q, want %q", u, in.Owner, u.name)
	}
	return in.ID
}

// assertPrivateKey checks the key `keys ssh` made: the user's, mode 0600.
func assertPrivateKey(t *testing.T, u account) {
	t.Helper()
	p := filepath.Join(u.home, ".ssh", "tollgate_ed25519")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatalf("keys ssh as %s: %v", u, err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("%s mode = %o, want 600", p, got)
	}
	if uid := fileUID(fi); !u.current && uid != u.uid {
		t.Errorf("%s owner uid = %d, want %d", p, uid, u.uid)
	}
	if _, err := os.Stat(p + ".pub"); err != nil {
		t.Errorf("keys ssh as %s: %v", u, err)
	}
}

// assertDaemonUser checks the daemon runs as its own non-root user.
func assertDaemonUser(t *testing.T, c *cluster, u account) {
	t.Helper()
	fi, err := os.Stat("/proc/" + itoa(c.daemon.Process.Pid))
	if err != nil {
		t.Fatalf("daemon process: %v", err)
	}
	if got := fileUID(fi); got != u.uid || got == 0 {
		t.Errorf("daemon runs as uid %d, want %s's uid %d (never root)", got, u.name, u.uid)
	}
}

func userNames(us []api.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func instanceIDs(ins []api.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

func find(ins []api.Instance, id string) (api.Instance, bool) {
	for _, in := range ins {
		if in.ID == id {
			return in, true
		}
	}
	return api.Instance{}, false
}
