package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tollgate/tollgate/roster"
)

// AdminUsersImportCmd is `tollgate admin users import FILE|-`. The roster is parsed here
// (roster.Parse) so every bad line is reported at once; the daemon imports all
// entries in one transaction or none.
type AdminUsersImportCmd struct {
	File string `arg:"" help:"Roster CSV (username[,group] per line), or - for stdin." placeholder:"FILE|-"`
}

// Run imports.
func (c *AdminUsersImportCmd) Run(env *Env) error {
	var r io.Reader = env.In
	name := "stdin"
	if c.File != "-" {
		f, err := os.Open(c.File)
		if err != nil {
			return fmt.Errorf("read roster: %w", err)
		}
		defer f.Close()
		r, name = f, c.File
	}
	entries, err := roster.Parse(io.LimitReader(r, 16<<20))
	if err != nil {
		// Every bad line on its own line, then the one-line summary.
		var re *roster.Error
		if errors.As(err, &re) {
			for _, l := range re.Lines {
				fmt.Fprintf(env.Err, "%s:%d: %q: %s\n", name, l.Line, l.Text, l.Problem)
			}
			return fmt.Errorf("roster %s: %d bad line(s); nothing imported", name, len(re.Lines))
		}
		return fmt.Errorf("roster %s: %w; nothing imported", name, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("roster %s: no entries; nothing imported", name)
	}
	users, err := env.Client.ImportUsers(env.Ctx, entries)
	if err != nil {
		return err
	}
	if !env.JSON {
		fmt.Fprintf(env.Out, "imported %d user(s)\n", len(users))
	}
	return printUsers(env, users)
}
