package regions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Bounds of the SSH runner.
const (
	// sshWithin bounds running → an SSH session open (sshd up, the key accepted).
	sshWithin = 5 * time.Minute
	// consoleWithin is how long the runner waits for the console output's host keys
	// once SSH answers before it pins the key it is shown (trust on first use).
	consoleWithin = 3 * time.Minute
	// outputMax is how much of the end of each stream a run keeps (as much as SSM
	// returns of its start).
	outputMax = 24000
	// settle is how long the runner gives a finished job's answer to arrive after each
	// tick (with a simulated clock, ticks take no time).
	settle = 5 * time.Millisecond
)

// DialFunc opens a connection to an instance's SSH port. The default dials its public
// address, or its private one when it has none; tests dial the simulator's daemons.
type DialFunc func(ctx context.Context, inst cloud.Instance, port int) (net.Conn, error)

func dialInstance(ctx context.Context, inst cloud.Instance, port int) (net.Conn, error) {
	ip := inst.PublicIP
	if ip == "" {
		ip = inst.PrivateIP
	}
	if ip == "" {
		return nil, fmt.Errorf("%s has no address", inst.ID)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
}

// outcome is how a job ended.
type outcome struct {
	status, reason string
	exitCode       int
	stdout, stderr string
	commandID      string // SSM only
}

func failed(format string, args ...any) outcome {
	return outcome{status: db.RunFailed, reason: fmt.Sprintf(format, args...), exitCode: -1}
}

// errHostKeyChanged is a host key that is not the pinned one: the run is refused.
var errHostKeyChanged = errors.New("host key changed")

// errNotPinnedYet makes the runner wait for the console output's host keys.
var errNotPinnedYet = errors.New("host key not pinned yet")

// runSSH runs the job over SSH on the running instance: connect (host key pinned),
// feed the commands to /bin/sh, wait for its exit within the job's timeout (then kill
// it), keep the end of its output.
func (s *Manager) runSSH(ctx context.Context, by tollgate.Actor, svc Service, region, id string) outcome {
	signer, err := loadSigner(svc.SSHPrivateKeyFile)
	if err != nil {
		return failed("the SSH key: %v", err)
	}
	client, err := s.connectSSH(ctx, by, svc, region, id, signer)
	if err != nil {
		return failed("ssh: %v", err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return failed("ssh session: %v", err)
	}
	defer sess.Close()
	var stdout, stderr tailBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader(strings.Join(svc.Commands, "\n") + "\n")
	if err := sess.Start("/bin/sh -s"); err != nil {
		return failed("ssh: start the job: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	deadline := s.o.Now().Add(svc.Timeout)
	for {
		select {
		case err := <-done:
			return sshOutcome(err, stdout.String(), stderr.String())
		default:
		}
		if s.o.Now().After(deadline) {
			_ = sess.Signal(ssh.SIGKILL)
			client.Close()
			<-done
			return outcome{status: db.RunTimedOut, exitCode: -1, stdout: stdout.String(), stderr: stderr.String(),
				reason: fmt.Sprintf("the job ran past its timeout of %s and was killed", svc.Timeout)}
		}
		if err := s.tick(ctx, done, 5*time.Second); err != nil {
			_ = sess.Signal(ssh.SIGKILL)
			return failed("ssh: %v", err)
		}
	}
}

// tick waits d, or less if the job ends: a job's end is seen at once, not at the next
// poll (every second of an instance is billed).
func (s *Manager) tick(ctx context.Context, done chan error, d time.Duration) error {
	slept := make(chan error, 1)
	go func() { slept <- s.o.Sleep(ctx, d) }()
	select {
	case err := <-done:
		done <- err // for the caller's own read
		return nil
	case err := <-slept:
		if err != nil {
			return err
		}
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(settle):
	}
	return nil
}

func sshOutcome(err error, stdout, stderr string) outcome {
	o := outcome{stdout: stdout, stderr: stderr}
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		o.status, o.exitCode = db.RunSucceeded, 0
	case errors.As(err, &exit) && exit.Signal() != "":
		o.status, o.exitCode = db.RunFailed, -1
		o.reason = fmt.Sprintf("the job was killed by signal %s", exit.Signal())
	case errors.As(err, &exit):
		o.status, o.exitCode = db.RunFailed, exit.ExitStatus()
		o.reason = fmt.Sprintf("the job exited with code %d", exit.ExitStatus())
	case errors.As(err, &missing):
		o.status, o.exitCode = db.RunFailed, -1
		o.reason = "the connection ended with no exit status (the instance stopped, or the network dropped)"
	default:
		o.status, o.exitCode = db.RunFailed, -1
		o.reason = "ssh: " + err.Error()
	}
	return o
}

// connectSSH opens an SSH client to the instance as the service's user, retrying while
// its daemon comes up. The host key must be the one pinned for the instance; with none
// pinned, the console output's host keys are pinned once it shows them, and past
// consoleWithin of answers without them the key first shown is pinned (and audited).
func (s *Manager) connectSSH(ctx context.Context, by tollgate.Actor, svc Service, region, id string, signer ssh.Signer) (*ssh.Client, error) {
	deadline := s.o.Now().Add(sshWithin)
	dial := s.o.DialSSH
	if dial == nil {
		dial = dialInstance
	}
	// The instance is running: its addresses stay as they are for this boot.
	insts, err := s.o.Cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: []string{id}})
	if err != nil {
		return nil, err
	}
	if len(insts) != 1 {
		return nil, fmt.Errorf("%s is not in %s", id, region)
	}
	pin, pinned, err := s.o.DB.GetHostKeyPin(ctx, id)
	if err != nil {
		return nil, err
	}
	var answered time.Time // the first time the SSH port answered
	var last error
	for {
		if !pinned {
			if console, err := s.o.Cloud.ConsoleOutput(ctx, region, id); err == nil {
				if keys := cloud.HostKeysFromConsole(console); len(keys) > 0 {
					pin, pinned = s.pin(ctx, by, svc, region, id, keys, "console")
				}
			}
		}
		conn, err := dial(ctx, insts[0], svc.SSHPort)
		if err == nil {
			if answered.IsZero() {
				answered = s.o.Now()
			}
			tofu := !pinned && s.o.Now().Sub(answered) >= consoleWithin
			var client *ssh.Client
			if client, err = s.handshake(ctx, by, svc, region, id, conn, signer, pin, pinned, tofu); err == nil {
				return client, nil
			}
			conn.Close()
			if errors.Is(err, errHostKeyChanged) {
				return nil, err
			}
		}
		if err != nil {
			last = err
		}
		if s.o.Now().After(deadline) {
			return nil, fmt.Errorf("no SSH session with %s within %s: %v", id, sshWithin, last)
		}
		if err := s.o.Sleep(ctx, 5*time.Second); err != nil {
			return nil, err
		}
	}
}

func (s *Manager) handshake(ctx context.Context, by tollgate.Actor, svc Service, region, id string, conn net.Conn,
	signer ssh.Signer, pin db.HostKeyPin, pinned, tofu bool) (*ssh.Client, error) {
	var shown ssh.PublicKey
	check := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		shown = key
		line := authorizedLine(key)
		switch {
		case pinned && slices.Contains(pin.Keys, line):
			return nil
		case pinned:
			return fmt.Errorf("%w: %s shows %s, not the key pinned from its %s on %s", errHostKeyChanged, id,
				ssh.FingerprintSHA256(key), pin.Source, pin.PinnedAt.UTC().Format(time.RFC3339))
		case tofu:
			return nil
		}
		return errNotPinnedYet
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	cc, chans, reqs, err := ssh.NewClientConn(conn, conn.RemoteAddr().String(), &ssh.ClientConfig{
		User: svc.SSHUser, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: check,
		Timeout: 30 * time.Second})
	if err != nil {
		if errors.Is(err, errHostKeyChanged) {
			_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: ActionRun + ".hostkey", Target: svc.Name + "/" + region,
				Decision: audit.Refused, Reason: "the host key is not the pinned one",
				Detail: map[string]any{"instance": id, "shown": ssh.FingerprintSHA256(shown)}})
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if !pinned {
		if _, ok := s.pin(ctx, by, svc, region, id, []ssh.PublicKey{shown}, "first-use"); !ok {
			cc.Close()
			return nil, errors.New("pinning the host key failed")
		}
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// pin records the instance's host keys (once) and audits it.
func (s *Manager) pin(ctx context.Context, by tollgate.Actor, svc Service, region, id string, keys []ssh.PublicKey, source string) (db.HostKeyPin, bool) {
	p := db.HostKeyPin{InstanceID: id, Source: source, PinnedAt: s.o.Now()}
	prints := make([]string, 0, len(keys))
	for _, k := range keys {
		p.Keys = append(p.Keys, authorizedLine(k))
		prints = append(prints, ssh.FingerprintSHA256(k))
	}
	fresh, err := s.o.DB.PinHostKeys(ctx, p)
	if err != nil {
		s.o.Log.Error("pin host keys", "instance", id, "err", err)
		return db.HostKeyPin{}, false
	}
	if fresh {
		_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: ActionRun + ".hostkey", Target: svc.Name + "/" + region,
			Decision: audit.Done, Reason: "host key pinned from the " + map[string]string{"console": "console output", "first-use": "first connection"}[source],
			Detail: map[string]any{"instance": id, "fingerprints": prints}})
	}
	got, ok, err := s.o.DB.GetHostKeyPin(ctx, id)
	return got, ok && err == nil
}

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// tailBuffer keeps the last outputMax bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	b         []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - outputMax; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.truncated {
		return "[…]" + strings.ToValidUTF8(string(t.b), "")
	}
	return string(t.b)
}
