// Package cli is the tollgated command line: serve, collect, report, check-config, sim
// and dev, one kong command struct per subcommand with a Run method. Main is importable
// so tests drive the daemon's commands in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/tollgate/tollgate/config"
)

// Exit statuses, as for the tollgate CLI.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Slog attribute keys.
const (
	logPath      = "path"
	logSocket    = "socket"
	logComponent = "component"
	logAccount   = "account"
	logARN       = "arn"
)

// Stdio is the streams a run reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// CLI is the root command.
type CLI struct {
	Config    string `help:"Configuration file." default:"${config}" type:"path" placeholder:"FILE"`
	LogFormat string `name:"log-format" help:"Log format on stderr (text|json)." enum:"text,json" default:"text"`

	Serve       ServeCmd       `cmd:"" help:"Serve the socket: admission, launches, reconcile, accounting, reaper."`
	Collect     CollectCmd     `cmd:"" help:"Snapshot every region into the database once (for cron), without the daemon."`
	Migrate     MigrateCmd     `cmd:"" help:"Apply the database's pending schema migrations and list them (serve also applies them)."`
	Report      ReportCmd      `cmd:"" help:"Print a spend report from the database, without the daemon."`
	CheckConfig CheckConfigCmd `cmd:"" name:"check-config" help:"Check the configuration file; errors name file:line:key."`
	Sim         SimCmd         `cmd:"" help:"Serve the simulated AWS (awssim) on a loopback port."`
	Dev         DevCmd         `cmd:"" help:"Run a complete daemon on the built-in simulated cloud, in a temporary directory."`
}

// Env is what every command's Run receives.
type Env struct {
	Ctx context.Context
	Stdio
	// ConfigPath is --config.
	ConfigPath string
	// LogFormat is --log-format.
	LogFormat string
}

// exitPanic carries kong's requested exit (after --help) out of the parser.
type exitPanic struct{ code int }

// usageError is an invocation error found after parsing: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

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
	parser, err := kong.New(&root,
		kong.Name("tollgated"),
		kong.Description("tollgate's daemon: the only holder of the cloud credentials."),
		kong.Writers(stdio.Out, stdio.Err),
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
		kong.Vars{"config": config.DefaultPath},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(stdio.Err, "tollgated: %v\n", err)
		return ExitFailure
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stdio.Err, "tollgated: %v\n", err)
		fmt.Fprintln(stdio.Err, "hint: run 'tollgated --help'")
		return ExitUsage
	}
	env := &Env{Ctx: ctx, Stdio: stdio, ConfigPath: root.Config, LogFormat: root.LogFormat}
	if err := kctx.Run(env); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stdio.Err, "tollgated: %s\n", ue.msg)
			return ExitUsage
		}
		// Configuration errors come one per line (file:line:key: message); keep them so.
		fmt.Fprintf(stdio.Err, "tollgated: %s\n", strings.TrimSpace(err.Error()))
		return ExitFailure
	}
	return ExitOK
}

// logger is the process's one logger, on stderr. Components get it (or a With of it);
// attribute keys are constants and no secret is ever an attribute.
func (env *Env) logger(level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if env.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(env.Err, opts))
	}
	return slog.New(slog.NewTextHandler(env.Err, opts))
}

// loadConfig reads --config; its errors already name file, line and key.
func (env *Env) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(env.ConfigPath)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}
