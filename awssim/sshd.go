package awssim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHDelay is how long after an instance is running its SSH daemon accepts connections.
const SSHDelay = 15 * time.Second

// ConsoleDelay is how long after an instance first runs its console output (with the
// host keys cloud-init prints) is readable; EC2's lags by minutes, like this.
const ConsoleDelay = 45 * time.Second

// sshState is the simulated instances' SSH daemons: one loopback listener per instance
// (started by SSHAddr), each with its own host key, printed in the console output.
type sshState struct {
	mu            sync.Mutex
	hostKeys      map[string]ssh.Signer // by instance id
	listeners     map[string]net.Listener
	consoleHidden map[string]bool
	runs          map[string][]SSHRun
}

// SSHRun is one command a simulated SSH daemon ran.
type SSHRun struct {
	User    string
	Command string // the exec request
	Script  string // what was written to its standard input
	Killed  bool   // ended by a signal from the client
}

func (s *Sim) sshd() *sshState {
	s.sshOnce.Do(func() {
		s.sshState = &sshState{hostKeys: map[string]ssh.Signer{}, listeners: map[string]net.Listener{},
			consoleHidden: map[string]bool{}, runs: map[string][]SSHRun{}}
	})
	return s.sshState
}

// hostKey returns the instance's host key, made on first use.
func (st *sshState) hostKey(id string) ssh.Signer {
	st.mu.Lock()
	defer st.mu.Unlock()
	if k := st.hostKeys[id]; k != nil {
		return k
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	st.hostKeys[id] = k
	return k
}

// RotateHostKey gives the instance a new host key (a test of pinning: the next
// connection must be refused by a client that pinned the old one).
func (s *Sim) RotateHostKey(id string) {
	st := s.sshd()
	st.mu.Lock()
	delete(st.hostKeys, id)
	st.mu.Unlock()
}

// SetConsoleHostKeysHidden hides the host-key block from the instance's console output
// (as images without cloud-init print none), or shows it again.
func (s *Sim) SetConsoleHostKeysHidden(id string, hidden bool) {
	st := s.sshd()
	st.mu.Lock()
	st.consoleHidden[id] = hidden
	st.mu.Unlock()
}

// SSHRuns returns the commands the instance's SSH daemon ran, oldest first.
func (s *Sim) SSHRuns(id string) []SSHRun {
	st := s.sshd()
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]SSHRun(nil), st.runs[id]...)
}

// CloseSSH closes every simulated SSH daemon.
func (s *Sim) CloseSSH() {
	st := s.sshd()
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, l := range st.listeners {
		l.Close()
		delete(st.listeners, id)
	}
}

// SSHAddr returns the loopback address where instance id's SSH daemon listens (what
// its public IP's port 22 is in the simulation), starting it on first use. The daemon
// accepts connections only while the instance has been running for SSHDelay, and only
// with the instance's keypair; a command runs as SetCommandOutcome says, on the
// simulated clock.
func (s *Sim) SSHAddr(id string) (string, error) {
	s.mu.Lock()
	in := s.byID[id]
	s.mu.Unlock()
	if in == nil {
		return "", fmt.Errorf("awssim: no instance %s", id)
	}
	st := s.sshd()
	st.mu.Lock()
	defer st.mu.Unlock()
	if l := st.listeners[id]; l != nil {
		return l.Addr().String(), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	st.listeners[id] = l
	go s.serveSSH(id, l)
	return l.Addr().String(), nil
}

// DialSSH connects to instance id's simulated SSH daemon (its port 22).
func (s *Sim) DialSSH(ctx context.Context, id string) (net.Conn, error) {
	addr, err := s.SSHAddr(id)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (s *Sim) serveSSH(id string, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.sshConn(id, c)
	}
}

// sshUp reports whether the instance's SSH daemon is up now, and the authorized key.
func (s *Sim) sshUp(id string) (ssh.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.byID[id]
	if in == nil {
		return nil, false
	}
	now := s.Now()
	since, ok := in.runningSince(now)
	if !ok || now.Before(since.Add(SSHDelay)) {
		return nil, false
	}
	k := s.regions[in.region].keys[in.keyName]
	if in.keyName == "" || k == nil {
		return nil, true
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.publicKey))
	if err != nil {
		return nil, true
	}
	return pub, true
}

func (s *Sim) sshConn(id string, c net.Conn) {
	defer c.Close()
	authorized, up := s.sshUp(id)
	if !up {
		return // as a refused connection: the daemon is not up yet
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if authorized != nil && bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("key not authorized")
		},
	}
	cfg.AddHostKey(s.sshd().hostKey(id))
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.sshSession(id, conn.User(), ch, creqs)
	}
}

// sshSession serves one session: an exec request runs the command as the instance's
// outcome says, after reading its standard input to the end.
func (s *Sim) sshSession(id, user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	killed := make(chan struct{})
	var once sync.Once
	var command string
	started := false
	for req := range reqs {
		switch req.Type {
		case "exec":
			if started {
				_ = req.Reply(false, nil)
				continue
			}
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			command, started = p.Command, true
			_ = req.Reply(true, nil)
			go func() {
				s.sshExec(id, user, command, ch, killed)
				_ = ch.CloseWrite()
				ch.Close()
			}()
		case "signal":
			once.Do(func() { close(killed) })
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	once.Do(func() { close(killed) })
}

func (s *Sim) sshExec(id, user, command string, ch ssh.Channel, killed <-chan struct{}) {
	script, _ := io.ReadAll(io.LimitReader(ch, 1<<20))
	s.mu.Lock()
	o, ok := s.ssm().outcomes[id]
	if !ok {
		o = s.ssm().outcomes[""]
	}
	start := s.Now()
	s.mu.Unlock()
	run := SSHRun{User: user, Command: command, Script: string(script)}
	// The command runs for o.Duration of simulated time, or until the client's signal,
	// or until the instance stops running.
	for {
		select {
		case <-killed:
			run.Killed = true
			s.recordSSHRun(id, run)
			_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: "KILL"}))
			return
		default:
		}
		s.mu.Lock()
		now := s.Now()
		running := false
		if in := s.byID[id]; in != nil {
			_, running = in.runningSince(now)
		}
		s.mu.Unlock()
		if !running {
			s.recordSSHRun(id, run)
			return // the connection drops with no exit status
		}
		if !now.Before(start.Add(o.Duration)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.recordSSHRun(id, run)
	_, _ = io.WriteString(ch, o.Stdout)
	_, _ = io.WriteString(ch.Stderr(), o.Stderr)
	code := o.ExitCode
	if o.Status != "" && o.Status != "Success" && code == 0 {
		code = 1
	}
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

func (s *Sim) recordSSHRun(id string, r SSHRun) {
	st := s.sshd()
	st.mu.Lock()
	st.runs[id] = append(st.runs[id], r)
	st.mu.Unlock()
}

type xmlConsoleOutput struct {
	InstanceID string `xml:"instanceId"`
	Timestamp  string `xml:"timestamp"`
	Output     string `xml:"output"`
}

// getConsoleOutput serves GetConsoleOutput: once the instance has run for ConsoleDelay,
// a boot log with the host-key block cloud-init prints (unless hidden).
func (s *Sim) getConsoleOutput(rg *region, c *call, now time.Time) (any, *apiError) {
	id := c.get("InstanceId")
	if id == "" {
		return nil, missing("InstanceId")
	}
	ins, aerr := s.resolveInstances(rg, []string{id}, now, 0)
	if aerr != nil {
		return nil, aerr
	}
	in := ins[0]
	out := xmlConsoleOutput{InstanceID: id, Timestamp: now.UTC().Format(time.RFC3339)}
	first := time.Time{}
	for _, e := range in.events {
		if e.state == StateRunning && !e.at.After(now) {
			first = e.at
			break
		}
	}
	if first.IsZero() || now.Before(first.Add(ConsoleDelay)) {
		return out, nil // EC2 answers with no output until there is some
	}
	st := s.sshd()
	st.mu.Lock()
	hidden := st.consoleHidden[id]
	st.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "[    0.000000] Linux version 6.1.0 (awssim)\r\nCloud-init v. 23.4 running 'init' at %s\r\n",
		first.UTC().Format(time.RFC1123))
	if !hidden {
		pub := st.hostKey(id).PublicKey()
		b.WriteString("-----BEGIN SSH HOST KEY KEYS-----\r\n")
		b.WriteString(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " root@" + id + "\r\n")
		b.WriteString("-----END SSH HOST KEY KEYS-----\r\n")
	}
	b.WriteString("Cloud-init v. 23.4 finished\r\n")
	out.Output = base64.StdEncoding.EncodeToString([]byte(b.String()))
	return out, nil
}
