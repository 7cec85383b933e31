package broker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
)

// apiInstance is how users and admins see an instance row.
func apiInstance(in db.Instance) api.Instance {
	return api.Instance{
		ID: in.ID, Owner: in.Owner, State: in.State, Type: in.Type, Image: in.Image, Region: in.Region,
		Name: in.Name, LaunchedAt: in.LaunchedAt, ExpiresAt: in.ExpiresAt, PublicIP: in.PublicIP,
		PrivateIP: in.PrivateIP, Spot: in.Spot, RequestID: in.LaunchID, Tracked: in.Tracked, Adopted: in.Adopted,
		Unverified: in.Adopted && in.LaunchID == "", Purpose: in.Purpose,
	}
}

func apiInstances(rows []db.Instance) []api.Instance {
	out := make([]api.Instance, 0, len(rows))
	for _, r := range rows {
		out = append(out, apiInstance(r))
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// instanceList is a listing of rows as users and admins see it: transitional states
// refreshed from the cloud, and each instance's cost this budget period from accounting.
func (d *Daemon) instanceList(ctx context.Context, rows []db.Instance) (api.InstanceList, error) {
	rows = d.refreshTransitional(ctx, rows)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	costs, err := d.acct.InstanceCosts(ctx, ids)
	if err != nil {
		return api.InstanceList{}, fmt.Errorf("list instances: %w", err)
	}
	out := apiInstances(rows)
	for i := range out {
		out[i].CostUSD = costs[out[i].ID]
	}
	return api.InstanceList{Instances: out}, nil
}
