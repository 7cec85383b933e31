package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/daemon"
	"github.com/tollgate/tollgate/regions"
)

// devControlTokenFile is the file in the state directory holding the simulator's control
// token (mode 0600).
const devControlTokenFile = "awssim-control-token"

// devCredentials returns fresh fake credentials for one dev run. The simulator accepts
// EC2, IAM, STS and control calls signed with this access key id only (and EC2 and STS
// calls with the keys its IAM issued), so other local users cannot drive the dev cloud
// behind the daemon's back (they cannot read the daemon's environment).
func devCredentials() (id, secret string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random dev credentials: %w", err)
	}
	return "AKIDDEV" + strings.ToUpper(hex.EncodeToString(b[:7])), "tollgate-dev-" + hex.EncodeToString(b[7:]), nil
}

// DevCmd is `tollgated dev`: the whole system on the built-in simulated cloud, in a
// temporary directory, with the invoking user enrolled as admin. Ctrl-C removes it all.
type DevCmd struct {
	Dir  string `help:"Keep state in DIR instead of a new temporary directory (not removed at exit)." placeholder:"DIR" type:"path"`
	Keep bool   `help:"Keep the temporary directory at exit."`
}

// Run starts the simulator and the daemon and serves until interrupted.
func (c *DevCmd) Run(env *Env) (err error) {
	me, err := user.Current()
	if err != nil {
		return fmt.Errorf("who am I: %w", err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		return fmt.Errorf("primary group of %s: %w", me.Username, err)
	}
	dir := c.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "tollgate-dev-"); err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
		if !c.Keep {
			defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}

	log := env.logger("info")
	keyID, secret, err := devCredentials()
	if err != nil {
		return err
	}
	sim, world, err := startSim("127.0.0.1:0", awssim.Options{Clock: "real", Logger: log.With(logComponent, "awssim"),
		AccessKeyIDs: []string{keyID}, ControlToken: awssim.ControlTokenFor(secret)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, sim.Close()) }()
	// The control paths (/_sim/) need the run's key or this token; only the invoking
	// user can read the file.
	tokenPath := filepath.Join(dir, devControlTokenFile)
	if err := os.WriteFile(tokenPath, []byte(awssim.ControlTokenFor(secret)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write control token: %w", err)
	}

	path := filepath.Join(dir, "tollgate.toml")
	if err := os.WriteFile(path, []byte(devConfig(dir, sim.URL, grp.Name)), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("dev config: %w", err)
	}
	// The SDK's standard chain reads these first; set before the cloud client exists.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":     keyID,
		"AWS_SECRET_ACCESS_KEY": secret,
		"AWS_SESSION_TOKEN":     "",
		"AWS_PROFILE":           "",
	} {
		if v == "" {
			os.Unsetenv(k)
		} else if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	cl, err := newCloud(env.Ctx, cfg, log)
	if err != nil {
		return err
	}
	// dev is a throw-away daemon for whoever runs it, root included (as in CI).
	// The SSH runner of regional services reaches the simulated instances' daemons.
	dial := func(o *regions.Options) {
		o.DialSSH = func(ctx context.Context, inst cloud.Instance, _ int) (net.Conn, error) {
			return world.DialSSH(ctx, inst.ID)
		}
	}
	d, err := daemon.New(env.Ctx, daemon.Options{Config: cfg, Logger: log, Cloud: cl, AllowRoot: true, Regions: dial})
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	client := api.NewClient(d.Broker.Socket())
	if _, err := client.AddUsers(ctx, api.UsersAddRequest{Users: []string{me.Username}}); err != nil {
		cancel()
		return errors.Join(fmt.Errorf("enrol %s: %w", me.Username, err), <-done)
	}
	printDevHelp(env, d.Broker.Socket(), sim.URL, path, tokenPath, me.Username)
	select {
	case err = <-done:
		return err
	case <-env.Ctx.Done():
	}
	fmt.Fprintln(env.Err, "tollgated dev: stopping")
	return <-done
}

// devConfig is the development configuration: everything in dir, the simulator as the
// cloud, the invoking user's primary group as the admin group.
func devConfig(dir, endpoint, adminGroup string) string {
	q := strconv.Quote
	return `# Written by 'tollgated dev'; the simulated cloud only.
[broker]
socket = ` + q(filepath.Join(dir, "tollgate.sock")) + `
database = ` + q(filepath.Join(dir, "tollgate.db")) + `
admin_group = ` + q(adminGroup) + `
reconcile_interval = "1m"

[aws]
regions = ["us-west-2", "us-east-1"]
endpoint_url = ` + q(endpoint) + `

[accounting]
collect_interval = "15s"

[policy.default]
max_instances = 4
max_vcpus = 8
instance_types = ["t3.micro", "t3.small", "t3.medium"]
images = [` + q(awssim.FixedImageID) + `]
regions = ["us-west-2", "us-east-1"]
default_lifetime = "2h"
max_lifetime = "12h"
expire_action = "stop"
budget_usd = 20.0
budget_period = "month"
spot = "allowed"
`
}

// printDevHelp tells the user how to point the CLI at this daemon.
func printDevHelp(env *Env, socket, simURL, cfgPath, tokenPath, userName string) {
	w := env.Out
	fmt.Fprintf(w, "tollgated dev: daemon on the simulated cloud (awssim at %s)\n", simURL)
	fmt.Fprintf(w, "config: %s  (%s is enrolled and admin)\n\n", cfgPath, userName)
	fmt.Fprintf(w, "In another shell:\n\n")
	fmt.Fprintf(w, "  export TOLLGATE_SOCKET=%s\n", socket)
	fmt.Fprintf(w, "  go run ./cmd/tollgate whoami\n")
	fmt.Fprintf(w, "  go run ./cmd/tollgate keys ssh\n")
	fmt.Fprintf(w, "  go run ./cmd/tollgate launch --type t3.micro --name demo --wait\n")
	fmt.Fprintf(w, "  go run ./cmd/tollgate ls\n")
	fmt.Fprintf(w, "  go run ./cmd/tollgate quota\n")
	fmt.Fprintf(w, "  go run ./cmd/tollgate admin instances ls\n\n")
	fmt.Fprintf(w, "The simulator's control paths (clock, ledger, faults) take the token in %s:\n\n", tokenPath)
	fmt.Fprintf(w, "  curl -H \"Authorization: Bearer $(cat %s)\" %s/_sim/clock\n\n", tokenPath, simURL)
	fmt.Fprintf(w, "Ctrl-C stops the daemon and the simulator and removes their state.\n")
	if f, ok := w.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
}
