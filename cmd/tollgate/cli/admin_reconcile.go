package cli

import "fmt"

// AdminReconcileCmd is `tollgate admin reconcile`.
type AdminReconcileCmd struct{}

// Run reconciles.
func (c *AdminReconcileCmd) Run(env *Env) error {
	r, err := env.Client.Reconcile(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		r.Resolved, r.Adopted = nonNil(r.Resolved), nonNil(r.Adopted)
		return printJSON(env.Out, r)
	}
	fmt.Fprintf(env.Out, "settled %d interrupted launch(es), adopted %d instance(s)\n", len(r.Resolved), len(r.Adopted))
	if len(r.Adopted) > 0 {
		return printInstances(env, r.Adopted, true)
	}
	return nil
}
