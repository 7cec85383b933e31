// Package cli is the tollgate command line: one kong command struct per subcommand, each
// with a Run method, so the whole CLI can be driven in-process by tests through [Main].
//
// Exit status is the contract scripts rely on: 0 success, 1 a refusal or failure (one
// line "tollgate: <message>" on stderr, plus "hint: …" when the daemon gave one), 2 a
// usage error.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tollgate/tollgate/broker/api"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Stdio is the streams a run reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Globals are the flags every command takes.
type Globals struct {
	Socket string `help:"Path of tollgated's socket." env:"TOLLGATE_SOCKET" default:"${socket}" placeholder:"PATH"`
	JSON   bool   `name:"json" help:"Print one JSON document on stdout instead of a table."`
}

// CLI is the root command. The KeysAWS and AdminIAM commands are the IAM engineer's
// (keys_aws.go, admin_iam.go); this file only wires them in.
type CLI struct {
	Globals

	Launch    LaunchCmd    `cmd:"" help:"Launch instances within your quota."`
	Ls        LsCmd        `cmd:"" help:"List your instances."`
	Stop      StopCmd      `cmd:"" help:"Stop your instances."`
	Start     StartCmd     `cmd:"" help:"Start your stopped instances."`
	Terminate TerminateCmd `cmd:"" help:"Terminate your instances."`
	Extend    ExtendCmd    `cmd:"" help:"Extend an instance's lease."`
	Usage     UsageCmd     `cmd:"" help:"Show your spend this budget period."`
	Quota     QuotaCmd     `cmd:"" help:"Show your effective policy and what you use of it."`
	Keys      KeysCmd      `cmd:"" help:"Manage your SSH key and AWS access key."`
	SSH       SSHCmd       `cmd:"" name:"ssh" help:"Log in to an instance with your tollgate SSH key."`
	Notices   NoticesCmd   `cmd:"" help:"Show your notices (lease warnings, reaper and budget actions)."`
	Whoami    WhoamiCmd    `cmd:"" help:"Show who the daemon thinks you are."`
	Admin     AdminCmd     `cmd:"" help:"Administer users, instances, spend and the audit log."`
}

// KeysCmd groups the key commands.
type KeysCmd struct {
	SSH SSHKeyCmd  `cmd:"" name:"ssh" help:"Create (if needed) and upload your SSH public key."`
	AWS KeysAWSCmd `cmd:"" name:"aws" help:"Get an AWS access key for your own IAM identity."`
}

// Env is what every command's Run receives: the client bound to the socket, the
// streams, and how to print. Commands never touch os.Stdout or os.Exit directly, so tests
// run them in-process.
type Env struct {
	Ctx    context.Context
	Client *api.Client
	Stdio
	// JSON selects one JSON document on stdout instead of a table.
	JSON bool
	// Home is the caller's home directory (for ~/.ssh).
	Home string
	// Now is the clock used to show relative times ("in 3h").
	Now func() time.Time
}

// usageError is an error in how the command was invoked, found after parsing: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error (exit status 2).
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitPanic carries kong's requested exit (after --help) out of the parser.
type exitPanic struct{ code int }

// Main parses args, runs the command and returns the exit status.
func Main(ctx context.Context, args []string, stdio Stdio) (code int) {
	var root CLI
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	opts := []kong.Option{
		kong.Name("tollgate"),
		kong.Description("Launch and manage cloud instances through tollgated, within your quota and budget."),
		kong.Writers(stdio.Out, stdio.Err),
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
		kong.Vars{"socket": api.DefaultSocket},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	}
	// Building kong's model of every command costs more than the request itself; when
	// the command is known, model only it (same structs, same tags, same Run).
	var target any = &root
	if cmd, ok := selectCommand(&root, args); ok {
		target = &root.Globals
		opts = append(opts, kong.DynamicCommand(cmd.name, cmd.help, "", cmd.ptr))
	}
	parser, err := kong.New(target, opts...)
	if err != nil {
		fmt.Fprintf(stdio.Err, "tollgate: %v\n", err)
		return ExitFailure
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stdio.Err, "tollgate: %v\n", err)
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil && pe.Context.Selected() != nil {
			fmt.Fprintf(stdio.Err, "hint: run 'tollgate %s --help'\n", pe.Context.Command())
		} else {
			fmt.Fprintln(stdio.Err, "hint: run 'tollgate --help'")
		}
		return ExitUsage
	}
	env := &Env{
		Ctx:    ctx,
		Client: api.NewClient(root.Socket),
		Stdio:  stdio,
		JSON:   root.JSON,
		Home:   homeDir(),
		Now:    time.Now,
	}
	unread := 0
	env.Client.OnNotices = func(n int) { unread = n }
	err = kctx.Run(env)
	if unread > 0 {
		showNotices(env)
	}
	return report(stdio.Err, err)
}

// report prints err the way the CLI contract says and returns the exit status.
func report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "tollgate: %s\n", ue.msg)
		return ExitUsage
	}
	fmt.Fprintf(w, "tollgate: %s\n", oneLine(err.Error()))
	var be *api.Error
	if errors.As(err, &be) && be.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", oneLine(be.Hint))
	}
	return ExitFailure
}

// showNotices prints the caller's unread notices on stderr after a command, so they are
// seen at the next call without mixing into the command's own output.
func showNotices(env *Env) {
	ns, err := env.Client.Notices(env.Ctx, false)
	if err != nil || len(ns) == 0 {
		return
	}
	for _, n := range ns {
		fmt.Fprintf(env.Err, "notice [%s] %s: %s\n", n.At.Local().Format("2006-01-02 15:04"), n.Kind, oneLine(n.Message))
	}
}

// homeDir is the caller's home directory: $HOME, else the password database's.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h
	}
	if u, err := currentUser(); err == nil {
		return u.HomeDir
	}
	return ""
}
