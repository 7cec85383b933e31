package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestNarrowParseMatchesFull checks that parsing with only the selected command modelled
// selects the same command, with the same flags and arguments, as parsing the whole CLI.
func TestNarrowParseMatchesFull(t *testing.T) {
	tests := [][]string{
		{"ls"},
		{"--json", "ls", "i-1"},
		{"--socket", "/x.sock", "launch", "--type", "t3.micro", "--count", "2", "--spot"},
		{"--socket=/x.sock", "stop", "i-1", "i-2"},
		{"extend", "i-1", "2h", "--json"},
		{"keys", "ssh", "--public-key", "/k.pub"},
		{"keys", "aws"},
		{"ssh", "i-1", "--", "uname", "-a"},
		{"admin", "users", "set", "bob", "--max-instances", "3", "--clear", "budget_usd"},
		{"admin", "report", "--by", "day", "--format", "csv"},
		{"admin", "instances", "ls", "--owner", "alice"},
		{"whoami"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var full CLI
			fp := mustKong(t, &full)
			fctx, err := fp.Parse(args)
			if err != nil {
				t.Fatalf("full parse: %v", err)
			}
			var narrow CLI
			cmd, ok := selectCommand(&narrow, args)
			if !ok {
				t.Fatalf("selectCommand(%q) found no command", args)
			}
			np := mustKong(t, &narrow.Globals, kong.DynamicCommand(cmd.name, cmd.help, "", cmd.ptr))
			nctx, err := np.Parse(args)
			if err != nil {
				t.Fatalf("narrow parse: %v", err)
			}
			if got, want := nctx.Command(), fctx.Command(); got != want {
				t.Errorf("narrow command = %q, want %q", got, want)
			}
			var fullCmd any
			for _, c := range topCommands(&full) {
				if c.name == cmd.name {
					fullCmd = c.ptr
				}
			}
			if got, want := jsonOf(t, narrow.Globals, cmd.ptr), jsonOf(t, full.Globals, fullCmd); got != want {
				t.Errorf("narrow parse = %s, want %s", got, want)
			}
		})
	}
}

func TestSelectCommandFallsBack(t *testing.T) {
	for _, args := range [][]string{{}, {"--help"}, {"-h", "ls"}, {"frobnicate"}, {"--socket"}, {"--verbose", "ls"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var root CLI
			if c, ok := selectCommand(&root, args); ok {
				t.Errorf("selectCommand(%q) = %q, want the full parse", args, c.name)
			}
		})
	}
}

func TestTopCommandsAreKongs(t *testing.T) {
	var root CLI
	p := mustKong(t, &root)
	var want []string
	for _, n := range p.Model.Children {
		want = append(want, n.Name)
	}
	var got []string
	for _, c := range topCommands(&root) {
		got = append(got, c.name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("topCommands = %v, want kong's %v", got, want)
	}
}

func mustKong(t *testing.T, target any, opts ...kong.Option) *kong.Kong {
	t.Helper()
	opts = append(opts, kong.Vars{"socket": "/default.sock"}, kong.Exit(func(int) { t.Fatalf("kong exited") }))
	p, err := kong.New(target, opts...)
	if err != nil {
		t.Fatalf("kong.New: %v", err)
	}
	return p
}

// jsonOf is the parsed values as JSON (pointers followed, so two parses compare equal).
func jsonOf(t *testing.T, vs ...any) string {
	t.Helper()
	b, err := json.Marshal(vs)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}
