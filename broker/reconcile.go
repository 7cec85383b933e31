package broker

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
)

// tellAdopted tells the owner of an adopted user instance that it exists: they may
// believe the launch failed (the daemon died before answering).
func (d *Daemon) tellAdopted(ctx context.Context, row db.Instance) {
	msg := fmt.Sprintf("instance %s (%s in %s) was found in the cloud with your tag and is now managed by tollgate; its lease ends %s",
		row.ID, row.Type, row.Region, row.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
	if _, err := d.acct.Notify(ctx, row.Owner, accounting.KindAdopted, row.ID, msg); err != nil {
		d.log.Warn("notify adoption", logInstance, row.ID, logUser, row.Owner, logErr, err)
	}
}

func (d *Daemon) handleReconcile(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if err := decodeBody(r, &struct{}{}, maxBody); err != nil {
		return nil, err
	}
	res, err := d.fleet.Reconcile(ctx, d.grace)
	if err != nil {
		d.audit(ctx, nil, c, audit.ReconcileRun, "", audit.Failed, err.Error(), nil)
		return nil, &api.Error{Code: api.CodeCloudError, Message: "reconcile: " + err.Error()}
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
