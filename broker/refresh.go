package broker

import (
	"context"
	"sort"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// refreshTimeout bounds the cloud lookup a listing makes: a slow or failing EC2 must not
// hold `tollgate ls` up, the stored state is served instead.
const refreshTimeout = 3 * time.Second

// transitional reports whether an instance in state is about to change by itself, so
// the stored state (refreshed at reconcile) would soon be stale.
func transitional(state string) bool {
	switch state {
	case "pending", "stopping", "shutting-down":
		return true
	}
	return false
}

// refreshTransitional asks the cloud for the current state of rows in a transitional
// state (one DescribeInstances per region, bounded by refreshTimeout), records what
// changed and returns rows updated. On any error it keeps the stored state: a listing
// never fails because the cloud is slow. This is what lets `launch --wait` see
// pending → running without waiting for reconcile.
func (d *Daemon) refreshTransitional(ctx context.Context, rows []db.Instance) []db.Instance {
	byRegion := map[string][]string{}
	for _, r := range rows {
		if transitional(r.State) {
			byRegion[r.Region] = append(byRegion[r.Region], r.ID)
		}
	}
	if len(byRegion) == 0 {
		return rows
	}
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	regions := make([]string, 0, len(byRegion))
	for r := range byRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	fresh := map[string]cloud.Instance{}
	for _, reg := range regions {
		insts, err := d.cloud.DescribeInstances(ctx, reg, cloud.Filter{IDs: byRegion[reg]})
		if err != nil {
			d.log.Debug("refresh listing: keeping stored states", logRegion, reg, logErr, err)
			continue
		}
		for _, ci := range insts {
			fresh[ci.ID] = ci
		}
	}
	now := d.now()
	for i, r := range rows {
		ci, ok := fresh[r.ID]
		if !ok || (ci.State == r.State && (ci.PublicIP == "" || ci.PublicIP == r.PublicIP)) {
			continue
		}
		if err := db.UpdateInstanceState(context.WithoutCancel(ctx), d.db, r.ID, ci.State, ci.PublicIP, ci.PrivateIP, now); err != nil {
			d.log.Error("record refreshed state", logInstance, r.ID, logErr, err)
			continue
		}
		rows[i].State = ci.State
		switch {
		case ci.PublicIP != "":
			rows[i].PublicIP = ci.PublicIP
		case ci.State == "stopped" || ci.State == "terminated":
			rows[i].PublicIP = ""
		}
		if ci.PrivateIP != "" {
			rows[i].PrivateIP = ci.PrivateIP
		}
		rows[i].LastSeen = now
	}
	return rows
}
