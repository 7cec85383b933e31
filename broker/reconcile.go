package broker

import (
	"context"
	"net/http"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
)

func (d *Daemon) handleReconcile(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if err := decodeBody(r, &struct{}{}, maxBody); err != nil {
		return nil, err
	}
	res, err := d.fleet.Reconcile(ctx, d.grace)
	if err != nil {
		d.audit(ctx, nil, c, audit.ReconcileRun, "", audit.Failed, err.Error(), nil)
		return nil, &tollgate.Error{Code: tollgate.CodeCloudError, Message: "reconcile: " + err.Error()}
	}
	d.audit(ctx, nil, c, audit.ReconcileRun, "", audit.Allowed, "",
		map[string]any{"resolved": len(res.Resolved), "adopted": len(res.Adopted), "actions": len(res.Actions)})
	out := api.ReconcileResult{Resolved: res.Resolved, Adopted: make([]api.Instance, len(res.Adopted))}
	if out.Resolved == nil {
		out.Resolved = []string{}
	}
	for i, row := range res.Adopted {
		out.Adopted[i] = apiInstance(row)
	}
	return out, nil
}
