package cli

import (
	"fmt"

	"github.com/tollgate/tollgate/broker/api"
)

// NoticesCmd is `tollgate notices`: lease warnings, reaper and budget actions. Reading
// them marks them read.
type NoticesCmd struct {
	All bool `help:"Show read notices too."`
}

// Run shows notices.
func (c *NoticesCmd) Run(env *Env) error {
	ns, err := env.Client.Notices(env.Ctx, c.All)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.NoticeList{Notices: nonNil(ns)})
	}
	if len(ns) == 0 {
		fmt.Fprintln(env.Out, "no notices")
		return nil
	}
	t := newTable(env.Out, "AT", "KIND", "MESSAGE")
	for _, n := range ns {
		t.row(stamp(n.At), n.Kind, oneLine(n.Message))
	}
	return t.flush()
}
