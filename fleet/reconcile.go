package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// reconciler is the audit actor of everything Reconcile does.
var reconciler = tollgate.SystemActor(tollgate.SysReconcile)

// Reconciled is what one Reconcile settled and adopted.
type Reconciled struct {
	Resolved []string      // launch request ids settled
	Actions  []int64       // action records settled
	Adopted  []db.Instance // tagged instances the database lacked
}

// Reconcile settles launch and action records left requested (by a crash, a lost
// response or a failed write) and adopts tollgate-tagged instances the database lacks;
// it also refreshes the state and addresses of known instances. Records younger than
// grace are left alone: a cloud call may still be in flight for them (a fresh process
// passes 0: it has none).
func (f *Fleet) Reconcile(ctx context.Context, grace time.Duration) (Reconciled, error) {
	var res Reconciled
	// One reconcile at a time, on every host sharing the database.
	unlock, err := f.db.Lock(ctx, "reconcile")
	if err != nil {
		return res, err
	}
	defer unlock()
	var errs []error
	reqs, err := f.db.LaunchesInState(ctx, db.LaunchRequested)
	if err != nil {
		return res, err
	}
	for _, l := range reqs {
		if f.now().Sub(l.CreatedAt) < grace {
			continue
		}
		ok, err := f.settleRequested(ctx, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			res.Resolved = append(res.Resolved, l.ID)
		}
	}
	settled, err := f.settleOpenActions(ctx, grace)
	res.Actions = settled
	errs = append(errs, err)
	for _, region := range f.regions {
		adopted, err := f.scanRegion(ctx, region)
		if err != nil {
			errs = append(errs, err)
		}
		res.Adopted = append(res.Adopted, adopted...)
	}
	return res, errors.Join(errs...)
}

// settleRequested looks a requested launch up by its client token: found instances are
// recorded (launched), none means the launch never happened (failed).
func (f *Fleet) settleRequested(ctx context.Context, l db.Launch) (bool, error) {
	found, err := f.cloud.DescribeInstances(ctx, l.Region, cloud.Filter{ClientToken: l.ClientToken})
	if err != nil {
		return false, fmt.Errorf("look up launch %s by client token: %w", l.ID, err)
	}
	if len(found) > 0 {
		if _, err := f.record(ctx, reconciler, l, found, true); err != nil {
			return false, err
		}
		f.log.Info("reconcile: launch found in the cloud", logRequest, l.ID, logUser, l.Owner, logCount, len(found))
		return true, nil
	}
	now := f.now()
	reason := "reconcile: no instance carries the launch's client token"
	err = f.db.Immediate(ctx, func(tx *db.Tx) error {
		settled, err := db.SettleLaunch(ctx, tx, l.ID, db.LaunchFailed, reason, now)
		if err != nil || !settled {
			return err
		}
		return f.audit.Record(ctx, tx, reconciler, audit.Entry{Action: audit.ReconcileLaunch, Target: l.ID,
			Decision: audit.Done, Reason: reason, Detail: map[string]any{"request": l.ID, "owner": l.Owner}})
	})
	if err != nil {
		return false, err
	}
	f.log.Info("reconcile: launch never happened", logRequest, l.ID, logUser, l.Owner)
	return true, nil
}

// scanRegion adopts tollgate-tagged instances of region that the database lacks and
// refreshes the known ones.
func (f *Fleet) scanRegion(ctx context.Context, region string) ([]db.Instance, error) {
	insts, err := f.cloud.DescribeInstances(ctx, region, cloud.Filter{TagKeys: []string{cloud.TagOwner}})
	if err != nil {
		return nil, fmt.Errorf("scan %s for tollgate instances: %w", region, err)
	}
	for i := range insts {
		if insts[i].Region == "" {
			insts[i].Region = region
		}
	}
	return f.adoptOrRefresh(ctx, insts)
}

// Adopt records tollgate-tagged instances the database lacks (accounting's collector
// calls it with those it finds); it is the one adoption logic.
func (f *Fleet) Adopt(ctx context.Context, insts []cloud.Instance) error {
	_, err := f.adoptOrRefresh(ctx, insts)
	return err
}

func (f *Fleet) adoptOrRefresh(ctx context.Context, insts []cloud.Instance) ([]db.Instance, error) {
	if len(insts) == 0 {
		return nil, nil
	}
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	known, err := f.db.ListInstances(ctx, nil, db.InstanceFilter{IDs: ids, OwnedOnly: true})
	if err != nil {
		return nil, err
	}
	byID := map[string]db.Instance{}
	for _, k := range known {
		byID[k.ID] = k
	}
	now := f.now()
	var adopted []db.Instance
	var errs []error
	for _, ci := range insts {
		if ci.Tags[cloud.TagOwner] == "" {
			continue
		}
		if k, ok := byID[ci.ID]; ok {
			if k.State != ci.State || (ci.PublicIP != "" && k.PublicIP != ci.PublicIP) {
				if err := db.UpdateInstanceState(ctx, f.db, ci.ID, ci.State, ci.PublicIP, ci.PrivateIP, now); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		row, err := f.adoptOne(ctx, ci, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if row != nil {
			adopted = append(adopted, *row)
		}
	}
	return adopted, errors.Join(errs...)
}

// adoptOne records one tagged instance the database lacked: owner, uid, purpose and
// expiry from its tags, linked to its launch record when the request tag names one of the
// owner's. A missing expiry is the purpose's default lifetime from now (no lease for a
// purpose without one): only the user purpose looks up a policy, through its rules.
func (f *Fleet) adoptOne(ctx context.Context, ci cloud.Instance, now time.Time) (*db.Instance, error) {
	owner := ci.Tags[cloud.TagOwner]
	purpose := tollgate.PurposeOf(ci.Tags[cloud.TagPurpose])
	rules := f.purposes[purpose]
	uid, err := strconv.Atoi(ci.Tags[cloud.TagUID])
	if err != nil {
		uid = -1
	}
	expires, err := time.Parse(time.RFC3339, ci.Tags[cloud.TagExpires])
	if err != nil {
		expires = time.Time{}
		if rules.DefaultLifetime != nil {
			life, lerr := rules.DefaultLifetime(ctx, owner)
			if lerr != nil {
				return nil, fmt.Errorf("adopt %s: default lifetime for %s: %w", ci.ID, owner, lerr)
			}
			expires = now.Add(life)
		}
	}
	launched := ci.LaunchTime
	if launched.IsZero() {
		launched = now
	}
	row := db.Instance{
		ID: ci.ID, Owner: owner, UID: uid, Region: ci.Region, Type: ci.Type, Image: ci.ImageID,
		Name: ci.Tags[cloud.TagName], Purpose: string(purpose), Spot: ci.Spot, Tracked: true, Adopted: true,
		State: ci.State, PublicIP: ci.PublicIP, PrivateIP: ci.PrivateIP, LaunchedAt: launched,
		ExpiresAt: expires, LastSeen: now, Tags: ci.Tags,
	}
	var inserted bool
	err = f.db.Immediate(ctx, func(tx *db.Tx) error {
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
		return f.audit.Record(ctx, tx, reconciler, audit.Entry{Action: audit.ReconcileAdopt, Target: ci.ID,
			Decision: audit.Done, Reason: "tollgate-tagged instance unknown to the database",
			Detail: map[string]any{"owner": owner, "region": ci.Region, "type": ci.Type, "request": row.LaunchID,
				"purpose": string(purpose)}})
	})
	if err != nil {
		return nil, fmt.Errorf("adopt %s: %w", ci.ID, err)
	}
	if !inserted {
		return nil, nil
	}
	f.log.Warn("reconcile: adopted a tollgate-tagged instance the database lacked",
		logInstance, ci.ID, logUser, owner, logRegion, ci.Region, logPurpose, string(purpose))
	if rules.Adopted != nil {
		rules.Adopted(ctx, row)
	}
	return &row, nil
}
