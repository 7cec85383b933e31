package regions

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// writeKeyPair writes a fresh ed25519 keypair into dir: the private key (mode) and its
// public half.
func writeKeyPair(t *testing.T, dir, name string, mode os.FileMode) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, "")
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := ssh.NewPublicKey(pk)
	priv, pub = filepath.Join(dir, name), filepath.Join(dir, name+".pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(block), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(priv, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(spk), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// sshEnv is env with the service on the SSH runner, dialling the simulator's daemons.
func sshEnv(t *testing.T) (*env, *Manager) {
	e := newEnv(t)
	priv, pub := writeKeyPair(t, t.TempDir(), "navo", 0o600)
	e.svc.Runner, e.svc.SSHPrivateKeyFile, e.svc.PublicKeyFile, e.svc.InstanceProfile = "ssh", priv, pub, ""
	if errs := (Config{Services: []Service{e.svc}}).Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	m := e.managerFor(t, func(o *Options) {
		o.DialSSH = func(ctx context.Context, inst cloud.Instance, port int) (net.Conn, error) {
			return e.sim.DialSSH(ctx, inst.ID)
		}
	}, 0)
	return e, m
}

func (e *env) run(m *Manager) db.ServiceRun {
	e.t.Helper()
	run, err := m.Run(e.ctx, tollgate.SystemActor(tollgate.SysRegions), "servicemon", home)
	if err != nil {
		e.t.Fatal(err)
	}
	if st := e.state(run.InstanceID); st != "stopped" && st != "stopping" {
		e.t.Errorf("after the run the instance is %s, want it stopped", st)
	}
	return run
}

func TestSSHRunnerRunsTheJobWithTheConsoleHostKeyPinned(t *testing.T) {
	e, m := sshEnv(t)
	id := e.setUp(m)
	e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: 4 * time.Minute, Stdout: "all services answered\n", Stderr: "warn\n"})
	run := e.run(m)
	if run.Status != db.RunSucceeded || run.ExitCode != 0 || run.Stdout != "all services answered\n" || run.Stderr != "warn\n" {
		t.Fatalf("run = %+v", run)
	}
	ran := e.sim.SSHRuns(id)
	if len(ran) != 1 || ran[0].User != "ec2-user" || ran[0].Command != "/bin/sh -s" ||
		ran[0].Script != "cd /home/ec2-user/ServiceMon\n./aws.sh\n" {
		t.Fatalf("the daemon ran %+v", ran)
	}
	pin, ok, err := e.db.GetHostKeyPin(e.ctx, id)
	if err != nil || !ok || pin.Source != "console" || len(pin.Keys) != 1 {
		t.Fatalf("pin = %+v %v %v, want one key from the console", pin, ok, err)
	}
	// Billed: boot, the console output's delay (the first run waits for the host key),
	// the job, and a few seconds of slack.
	job := 4 * time.Minute
	if bill := time.Duration(run.InstanceSeconds * float64(time.Second)); bill > job+awssim.PendingDuration+awssim.ConsoleDelay+30*time.Second {
		t.Errorf("billed %s for a %s job", bill, job)
	}
	// A second run finds the pin and does not wait for the console.
	second := e.run(m)
	if second.Status != db.RunSucceeded {
		t.Fatalf("second run = %+v", second)
	}
	if bill := time.Duration(second.InstanceSeconds * float64(time.Second)); bill > job+awssim.PendingDuration+awssim.SSHDelay+30*time.Second {
		t.Errorf("second run billed %s for a %s job", bill, job)
	}
}

func TestSSHRunnerOutcomesAlwaysStop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome awssim.CommandOutcome
		status  string
		reason  string
		exit    int
		killed  bool
	}{
		{"exit code", awssim.CommandOutcome{Status: "Failed", ExitCode: 3, Duration: time.Minute, Stderr: "no such file\n"}, db.RunFailed, "exited with code 3", 3, false},
		{"timeout", awssim.CommandOutcome{Duration: 5 * time.Hour}, db.RunTimedOut, "timeout of 30m0s", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, m := sshEnv(t)
			id := e.setUp(m)
			e.sim.SetCommandOutcome(id, tc.outcome)
			run := e.run(m)
			if run.Status != tc.status || run.ExitCode != tc.exit || !strings.Contains(run.Reason, tc.reason) {
				t.Fatalf("run = %s (%q) exit %d, want %s with %q, exit %d", run.Status, run.Reason, run.ExitCode, tc.status, tc.reason, tc.exit)
			}
			if tc.outcome.Stderr != "" && run.Stderr != tc.outcome.Stderr {
				t.Errorf("stderr = %q", run.Stderr)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(e.sim.SSHRuns(id)) == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if ran := e.sim.SSHRuns(id); len(ran) != 1 || ran[0].Killed != tc.killed {
				t.Errorf("the daemon ran %+v, want one run killed=%v", ran, tc.killed)
			}
		})
	}
}

func TestSSHRunnerRefusesAChangedHostKey(t *testing.T) {
	e, m := sshEnv(t)
	id := e.setUp(m)
	e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: time.Minute})
	if run := e.run(m); run.Status != db.RunSucceeded {
		t.Fatalf("first run = %+v", run)
	}
	e.sim.RotateHostKey(id) // as a man in the middle, or an instance rebuilt behind our back
	run := e.run(m)
	if run.Status != db.RunFailed || !strings.Contains(run.Reason, "host key changed") {
		t.Fatalf("run with another host key = %s (%q), want failed naming the host key", run.Status, run.Reason)
	}
	if ran := e.sim.SSHRuns(id); len(ran) != 1 {
		t.Errorf("the job was sent %d times, want once (never to the unknown key)", len(ran))
	}
	entries, err := e.db.ListAudit(e.ctx, db.AuditFilter{Action: ActionRun + ".hostkey"})
	if err != nil {
		t.Fatal(err)
	}
	var refused, pinned int
	for _, a := range entries {
		switch a.Decision {
		case "refused":
			refused++
		case "done":
			pinned++
		}
	}
	if refused != 1 || pinned != 1 {
		t.Errorf("host-key audit: %d refused, %d pinned, want 1 and 1: %+v", refused, pinned, entries)
	}
}

func TestSSHRunnerPinsOnFirstUseWithoutConsoleKeys(t *testing.T) {
	e, m := sshEnv(t)
	id := e.setUp(m)
	e.sim.SetConsoleHostKeysHidden(id, true)
	e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: time.Minute})
	run := e.run(m)
	if run.Status != db.RunSucceeded {
		t.Fatalf("run = %+v", run)
	}
	pin, ok, _ := e.db.GetHostKeyPin(e.ctx, id)
	if !ok || pin.Source != "first-use" {
		t.Fatalf("pin = %+v, want first-use", pin)
	}
	// It waited for the console's keys before trusting the first one shown, no longer.
	if bill := time.Duration(run.InstanceSeconds * float64(time.Second)); bill < consoleWithin || bill > time.Minute+consoleWithin+awssim.PendingDuration+awssim.SSHDelay+30*time.Second {
		t.Errorf("billed %s", bill)
	}
}

func TestSSHRunnerConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	priv, pub := writeKeyPair(t, dir, "ok", 0o600)
	open, openPub := writeKeyPair(t, dir, "open", 0o644)
	_, otherPub := writeKeyPair(t, dir, "other", 0o600)
	_ = openPub
	base := Service{Name: "svc", HomeRegion: home, Image: "NAVO", Commands: []string{"true"}, Runner: "ssh",
		SSHPrivateKeyFile: priv, PublicKeyFile: pub}
	for _, tc := range []struct {
		name string
		edit func(*Service)
		want string
	}{
		{"fine", func(*Service) {}, ""},
		{"unknown runner", func(s *Service) { s.Runner = "telnet" }, `runner: "telnet": want "ssm" or "ssh"`},
		{"no private key", func(s *Service) { s.SSHPrivateKeyFile = "" }, "ssh_private_key_file: unset"},
		{"key open to others", func(s *Service) { s.SSHPrivateKeyFile, s.PublicKeyFile = open, openPub }, "is open to others (mode 0644)"},
		{"not the pair", func(s *Service) { s.PublicKeyFile = otherPub }, "is not the private half of"},
		{"bad user", func(s *Service) { s.SSHUser = "root;rm" }, `ssh_user: "root;rm"`},
		{"bad port", func(s *Service) { s.SSHPort = 70000 }, "ssh_port: 70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			errs := Config{Services: []Service{s}}.Validate()
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors = %v, want one containing %q", errs, tc.want)
			}
			key, _ := os.ReadFile(priv)
			if strings.Contains(errs[0].Error(), string(key[40:80])) {
				t.Error("the error quotes the private key")
			}
		})
	}
}
