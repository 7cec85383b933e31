package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
)

// SSHCmd is `tollgate ssh ID [-- CMD]`: the system ssh with the tollgate key, to the
// instance's public address.
type SSHCmd struct {
	ID    string   `arg:"" help:"Instance."`
	Login string   `short:"l" default:"ubuntu" help:"Remote user."`
	Cmd   []string `arg:"" optional:"" passthrough:"" help:"Command to run instead of a shell."`
}

// Run replaces this process with ssh.
func (c *SSHCmd) Run(env *Env) error {
	insts, err := env.Client.Instances(env.Ctx, c.ID)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		return fmt.Errorf("no instance %s of yours", c.ID)
	}
	in := insts[0]
	if in.State != "running" {
		return fmt.Errorf("instance %s is %s; ssh needs it running", in.ID, in.State)
	}
	if in.PublicIP == "" {
		return fmt.Errorf("instance %s has no public address", in.ID)
	}
	bin, err := exec.LookPath("ssh")
	if err != nil {
		return errors.New("no ssh command on this host (install openssh-client)")
	}
	argv := c.argv(env.Home, in.PublicIP)
	if err := syscall.Exec(bin, argv, syscallEnviron()); err != nil {
		return fmt.Errorf("exec ssh: %w", err)
	}
	return nil
}

// argv is ssh's argument vector: identity only from the tollgate key.
func (c *SSHCmd) argv(home, ip string) []string {
	args := []string{"ssh", "-i", filepath.Join(home, KeyFile), "-o", "IdentitiesOnly=yes",
		"-l", c.Login, ip}
	cmd := c.Cmd
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) > 0 {
		args = append(args, "--")
		args = append(args, cmd...)
	}
	return args
}
