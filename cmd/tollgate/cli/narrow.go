package cli

import (
	"reflect"
	"strings"
)

// topCommand is one top-level command of CLI, found by reflection so the CLI struct stays
// the single definition.
type topCommand struct {
	name string
	help string
	ptr  any // pointer to the command's field in the root
}

// topCommands lists root's top-level commands in declaration order.
func topCommands(root *CLI) []topCommand {
	v := reflect.ValueOf(root).Elem()
	t := v.Type()
	var out []topCommand
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("cmd"); !ok {
			continue
		}
		name := f.Tag.Get("name")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, topCommand{name: name, help: f.Tag.Get("help"), ptr: v.Field(i).Addr().Interface()})
	}
	return out
}

// selectCommand finds the top-level command args name, skipping the global flags before
// it. Anything it does not understand (help, an unknown flag or command) returns false,
// and the whole CLI is parsed as usual, so errors and help are exactly kong's.
func selectCommand(root *CLI, args []string) (topCommand, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || strings.HasPrefix(a, "--socket="):
			continue
		case a == "--socket":
			i++
			continue
		case strings.HasPrefix(a, "-"):
			return topCommand{}, false
		}
		for _, c := range topCommands(root) {
			if c.name == a {
				return c, true
			}
		}
		return topCommand{}, false
	}
	return topCommand{}, false
}
