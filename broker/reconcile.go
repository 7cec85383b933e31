package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// reconcile settles launch records left requested (by a crash, or a lost response) and
// adopts tollgate-tagged instances the database lacks; it also refreshes the state and
// addresses of known instances. Requested launches younger than grace are left alone: a
// RunInstances call may still be in flight for them.
func (d *Daemon) reconcile(ctx context.Context, grace time.Duration) (api.ReconcileResult, error) {
	d.reconcileMu.Lock()
	defer d.reconcileMu.Unlock()
	res := api.ReconcileResult{Resolved: []string{}, Adopted: []api.Instance{}}
	var errs []error
	reqs, err := d.db.LaunchesInState(ctx, db.LaunchRequested)
	if err != nil {
		return res, err
	}
	for _, l := range reqs {
		if d.now().Sub(l.CreatedAt) < grace {
			continue
		}
		ok, err := d.settleRequested(ctx, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			res.Resolved = append(res.Resolved, l.ID)
		}
	}
	for _, region := range d.regions {
		adopted, err := d.scanRegion(ctx, region)
		if err != nil {
			errs = append(errs, err)
		}
		res.Adopted = append(res.Adopted, adopted...)
	}
	return res, errors.Join(errs...)
}

// settleRequested looks a requested launch up by its client token: found instances are
// recorded (launched), none means the launch never happened (failed).
func (d *Daemon) settleRequested(ctx context.Context, l db.Launch) (bool, error) {
	found, err := d.cloud.DescribeInstances(ctx, l.Region, cloud.Filter{ClientToken: l.ClientToken})
	if err != nil {
		return false, fmt.Errorf("look up launch %s by client token: %w", l.ID, err)
	}
	if len(found) > 0 {
		if _, err := d.record(ctx, nil, l, found, true); err != nil {
			return false, err
		}
		d.log.Info("reconcile: launch found in the cloud", logRequest, l.ID, logUser, l.Owner, logCount, len(found))
		return true, nil
	}
	now := d.now()
	reason := "reconcile: no instance carries the launch's client token"
	err = d.db.Immediate(ctx, func(tx *sql.Tx) error {
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchFailed, reason, now)
		if err != nil || !settled {
			return err
		}
		return d.audit(ctx, tx, nil, "reconcile.launch", l.ID, db.Done, reason,
			map[string]any{"request": l.ID, "owner": l.Owner})
	})
	if err != nil {
		return false, err
	}
	d.log.Info("reconcile: launch never happened", logRequest, l.ID, logUser, l.Owner)
	return true, nil
}

// scanRegion adopts tollgate-tagged instances of region that the database lacks and
// refreshes the known ones.
func (d *Daemon) scanRegion(ctx context.Context, region string) ([]api.Instance, error) {
	insts, err := d.cloud.DescribeInstances(ctx, region, cloud.Filter{TagKeys: []string{cloud.TagOwner}})
	if err != nil {
		return nil, fmt.Errorf("scan %s for tollgate instances: %w", region, err)
	}
	for i := range insts {
		if insts[i].Region == "" {
			insts[i].Region = region
		}
	}
	return d.adoptOrRefresh(ctx, insts)
}

// adopt records tollgate-tagged instances the database lacks (accounting's collector
// calls it with those it finds); it is the one adoption logic.
func (d *Daemon) adopt(ctx context.Context, insts []cloud.Instance) error {
	_, err := d.adoptOrRefresh(ctx, insts)
	return err
}

func (d *Daemon) adoptOrRefresh(ctx context.Context, insts []cloud.Instance) ([]api.Instance, error) {
	if len(insts) == 0 {
		return nil, nil
	}
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	known, err := d.db.ListInstances(ctx, nil, db.InstanceFilter{IDs: ids, OwnedOnly: true})
	if err != nil {
		return nil, err
	}
	byID := map[string]db.Instance{}
	for _, k := range known {
		byID[k.ID] = k
	}
	now := d.now()
	var adopted []api.Instance
	var errs []error
	for _, ci := range insts {
		if ci.Tags[cloud.TagOwner] == "" {
			continue
		}
		if k, ok := byID[ci.ID]; ok {
			if k.State != ci.State || (ci.PublicIP != "" && k.PublicIP != ci.PublicIP) {
				if err := db.UpdateInstanceState(ctx, d.db.SQL(), ci.ID, ci.State, ci.PublicIP, ci.PrivateIP, now); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		row, err := d.adoptOne(ctx, ci, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if row != nil {
			adopted = append(adopted, apiInstance(*row))
		}
	}
	return adopted, errors.Join(errs...)
}

// adoptOne records one tagged instance the database lacked: owner, uid and expiry from
// its tags (expiry defaults to now + the owner's default lifetime), linked to its launch
// record when the request tag names one of the owner's.
func (d *Daemon) adoptOne(ctx context.Context, ci cloud.Instance, now time.Time) (*db.Instance, error) {
	owner := ci.Tags[cloud.TagOwner]
	uid, err := strconv.Atoi(ci.Tags[cloud.TagUID])
	if err != nil {
		uid = -1
	}
	expires, err := time.Parse(time.RFC3339, ci.Tags[cloud.TagExpires])
	if err != nil {
		pol, perr := d.policyOf(ctx, owner)
		if perr != nil {
			return nil, fmt.Errorf("adopt %s: policy of %s: %w", ci.ID, owner, perr)
		}
		expires = now.Add(pol.DefaultLifetime)
	}
	launched := ci.LaunchTime
	if launched.IsZero() {
		launched = now
	}
	purpose := ci.Tags[cloud.TagPurpose]
	if purpose == "" {
		purpose = "user"
	}
	row := db.Instance{
		ID: ci.ID, Owner: owner, UID: uid, Region: ci.Region, Type: ci.Type, Image: ci.ImageID,
		Name: ci.Tags[cloud.TagName], Purpose: purpose, Spot: ci.Spot, Tracked: true, Adopted: true,
		State: ci.State, PublicIP: ci.PublicIP, PrivateIP: ci.PrivateIP, LaunchedAt: launched,
		ExpiresAt: expires, LastSeen: now, Tags: ci.Tags,
	}
	var inserted bool
	err = d.db.Immediate(ctx, func(tx *sql.Tx) error {
		if reqID := ci.Tags[cloud.TagRequest]; reqID != "" {
			l, ok, err := db.GetLaunch(ctx, tx, reqID)
			if err != nil {
				return err
			}
			if ok && l.Owner == owner && l.Region == ci.Region {
				row.LaunchID = l.ID
				if _, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchLaunched, "", now); err != nil {
					return err
				}
			}
		}
		var err error
		if inserted, err = db.InsertInstance(ctx, tx, row); err != nil || !inserted {
			return err
		}
		if ci.State == "terminated" {
			if err := db.UpdateInstanceState(ctx, tx, ci.ID, ci.State, "", "", now); err != nil {
				return err
			}
		}
		return d.audit(ctx, tx, nil, "reconcile.adopt", ci.ID, db.Done,
			"tollgate-tagged instance unknown to the database",
			map[string]any{"owner": owner, "region": ci.Region, "type": ci.Type, "request": row.LaunchID})
	})
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", ci.ID, err)
	}
	if !inserted {
		return nil, nil
	}
	d.log.Warn("reconcile: adopted a tollgate-tagged instance the database lacked",
		logInstance, ci.ID, logUser, owner, logRegion, ci.Region)
	if purpose == "user" {
		// The owner may believe the launch failed (the daemon died before answering):
		// tell them it exists, is theirs, and when its lease ends.
		msg := fmt.Sprintf("instance %s (%s in %s) was found in the cloud with your tag and is now managed by tollgate; its lease ends %s",
			ci.ID, ci.Type, ci.Region, expires.UTC().Format("2006-01-02 15:04 MST"))
		if _, err := d.acct.Notify(ctx, owner, accounting.KindAdopted, ci.ID, msg); err != nil {
			d.log.Warn("notify adoption", logInstance, ci.ID, logUser, owner, logErr, err)
		}
	}
	return &row, nil
}

func (d *Daemon) handleReconcile(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if err := decodeBody(r, &struct{}{}, maxBody); err != nil {
		return nil, err
	}
	res, err := d.reconcile(ctx, d.grace)
	if err != nil {
		d.audit(ctx, nil, c, "reconcile", "", db.Failed, err.Error(), nil)
		return nil, &api.Error{Code: api.CodeCloudError, Message: "reconcile: " + err.Error()}
	}
	d.audit(ctx, nil, c, "reconcile", "", db.Allowed, "",
		map[string]any{"resolved": len(res.Resolved), "adopted": len(res.Adopted)})
	return res, nil
}
