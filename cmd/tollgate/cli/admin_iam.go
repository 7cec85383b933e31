package cli

import (
	"fmt"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
)

// AdminIAMCmd groups `tollgate admin iam …`.
type AdminIAMCmd struct {
	Ls     AdminIAMLsCmd     `cmd:"" help:"List IAM identities, their keys and ages, and last rotation."`
	Revoke AdminIAMRevokeCmd `cmd:"" help:"Delete a user's IAM identity and everything attached to it, or --all at the end of term."`
}

// AdminIAMLsCmd is `tollgate admin iam ls`.
type AdminIAMLsCmd struct{}

// Run lists identities.
func (c *AdminIAMLsCmd) Run(env *Env) error {
	ids, err := env.Client.IAMIdentities(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.IdentityList{Identities: nonNil(ids)})
	}
	t := newTable(env.Out, "USER", "IAM USER", "STATE", "KEYS", "LAST ROTATED", "CREATED")
	for _, id := range ids {
		t.row(id.User, id.IAMUser, id.State, keySummary(id.Keys, env), relTime(id.LastRotated, env.Now()), day(id.CreatedAt))
	}
	return t.flush()
}

// keySummary is "AKIA… Active 3d, AKIA… Inactive 40d": each key's id, status and age.
func keySummary(keys []tollgate.Key, env *Env) string {
	var parts []string
	for _, k := range keys {
		age := "-"
		if !k.CreatedAt.IsZero() {
			age = shortDur(env.Now().Sub(k.CreatedAt))
		}
		parts = append(parts, k.ID+" "+k.Status+" "+age)
	}
	return strings.Join(parts, ", ")
}

// AdminIAMRevokeCmd is `tollgate admin iam revoke USER | --all`.
type AdminIAMRevokeCmd struct {
	User string `arg:"" optional:"" help:"User whose identity to revoke."`
	All  bool   `help:"Revoke every identity under the configured IAM path (end of term)."`
}

// Run revokes. With --all, every IAM user that could not be revoked is printed on
// stderr with the step that failed, after the ones that were, and the exit status is 1;
// running it again retries what is left.
func (c *AdminIAMRevokeCmd) Run(env *Env) error {
	if (c.User == "") == !c.All {
		return usagef("give a USER or --all, not both")
	}
	resp, err := env.Client.IAMRevoke(env.Ctx, api.IAMRevokeRequest{User: c.User, All: c.All})
	if err != nil {
		return err
	}
	if env.JSON {
		if err := printJSON(env.Out, api.IAMRevokeResponse{Revoked: nonNil(resp.Revoked), Failures: nonNil(resp.Failures)}); err != nil {
			return err
		}
	} else {
		if len(resp.Revoked) == 0 && len(resp.Failures) == 0 {
			fmt.Fprintln(env.Out, "no IAM identity to revoke")
		}
		for _, n := range resp.Revoked {
			fmt.Fprintf(env.Out, "revoked %s\n", n)
		}
	}
	for _, f := range resp.Failures {
		who := f.IAMUser
		if f.User != "" {
			who += " (" + f.User + ")"
		}
		fmt.Fprintf(env.Err, "not revoked %s: %s: %s\n", who, f.Step, oneLine(f.Error))
	}
	if n := len(resp.Failures); n > 0 {
		return fmt.Errorf("%d of %d IAM users not revoked; run it again to retry them", n, n+len(resp.Revoked))
	}
	return nil
}
