package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

// holdings is what owner holds, read through q inside an admission transaction: live
// instances, vCPUs of pending and running ones, the remaining cost of every live lease
// (stopped ones too: a stopped instance may be started again, so its lease stays
// committed; otherwise stop → launch → start would overshoot the budget), and the same
// for launches still requested. Instances in except are counted in Instances only: a
// start admits them itself.
func (d *Daemon) holdings(ctx context.Context, q db.Querier, owner string, now time.Time, except map[string]bool) (quota.Usage, error) {
	var u quota.Usage
	hs, err := db.Holdings(ctx, q, owner)
	if err != nil {
		return u, err
	}
	for _, h := range hs {
		l := d.lease(h.InstanceID, h.Type, h.Region, h.VCPUsEach, h.PriceHourly, h.ExpiresAt)
		if h.InstanceID == "" { // a launch still requested: Count leases not yet recorded
			u.Instances += h.Count
			u.VCPUs += h.Count * l.VCPUs
			u.CommittedUSD += float64(h.Count) * l.RemainingUSD(now)
			continue
		}
		u.Instances++
		if except[h.InstanceID] {
			continue
		}
		if h.State == "pending" || h.State == "running" {
			u.VCPUs += l.VCPUs
		}
		u.CommittedUSD += l.RemainingUSD(now)
	}
	return u, nil
}

// leaseOf is in's lease for admission: vCPUs and price from its launch record, or from
// the price table for instances adopted without one.
func (d *Daemon) leaseOf(in db.Instance) quota.Lease {
	return d.lease(in.ID, in.Type, in.Region, in.VCPUsEach, in.PriceHourly, in.ExpiresAt)
}

func (d *Daemon) lease(id, typ, region string, vcpus int, hourly float64, expires time.Time) quota.Lease {
	l := quota.Lease{ID: id, Type: typ, VCPUs: vcpus, HourlyUSD: hourly, ExpiresAt: expires}
	if l.VCPUs == 0 {
		l.VCPUs, _ = d.prices.VCPUs(typ)
	}
	if l.HourlyUSD == 0 {
		l.HourlyUSD, _ = d.prices.OnDemand(region, typ)
	}
	return l
}

// admitStart decides req, a start of instances (all c's, already checked), in one
// BEGIN IMMEDIATE transaction and, if admitted, writes the start's intent in the same
// transaction: the stopped instances are recorded pending, so a concurrent launch or
// start counts their vCPUs and cannot overshoot max_vcpus. A refusal is audited in the
// transaction and returned as *quota.Refusal.
func (d *Daemon) admitStart(ctx context.Context, c *caller, req fleet.ActionRequest) (*fleet.Intent, error) {
	pol, err := d.policyFor(c)
	if err != nil {
		return nil, err
	}
	now := d.now()
	spent, err := d.spent(ctx, c.Name, pol, now)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(req.Instances))
	except := make(map[string]bool, len(ids))
	for i, in := range req.Instances {
		ids[i] = in.ID
		except[in.ID] = true
	}
	var intent *fleet.Intent
	var refusal *quota.Refusal
	err = d.db.Immediate(ctx, func(tx *db.Tx) error {
		rows, err := db.ListInstances(ctx, tx, db.InstanceFilter{IDs: ids})
		if err != nil {
			return err
		}
		usage, err := d.holdings(ctx, tx, c.Name, now, except)
		if err != nil {
			return err
		}
		usage.SpentUSD = spent
		leases := make([]quota.Lease, 0, len(rows))
		for _, row := range rows {
			if row.Live() {
				leases = append(leases, d.leaseOf(row))
			}
		}
		if ref := quota.AdmitStart(pol, usage, leases, now); ref != nil {
			refusal = ref
			return d.audit(ctx, tx, c, audit.ActionOf(req.Prefix, req.Kind), joinIDs(ids), audit.Refused, ref.Message,
				map[string]any{"limit": ref.Limit, "code": ref.Code})
		}
		byID := make(map[string]db.Instance, len(rows))
		for _, row := range rows {
			byID[row.ID] = row
		}
		for i, id := range ids {
			req.Instances[i] = byID[id] // as of this transaction
		}
		intent, err = d.fleet.IntendActions(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("admit start: %w", err)
	}
	if refusal != nil {
		return nil, refusal
	}
	return intent, nil
}

// admitExtend decides extending row's lease by dur in one BEGIN IMMEDIATE transaction
// (max_lifetime, then the budget with every lease's committed cost) and records the new
// expiry in it, so two concurrent extends cannot both fit under the budget. A refusal
// is audited in the transaction and returned as *quota.Refusal.
func (d *Daemon) admitExtend(ctx context.Context, c *caller, id string, dur time.Duration) (db.Instance, time.Time, error) {
	pol, err := d.policyFor(c)
	if err != nil {
		return db.Instance{}, time.Time{}, err
	}
	now := d.now()
	spent, err := d.spent(ctx, c.Name, pol, now)
	if err != nil {
		return db.Instance{}, time.Time{}, err
	}
	var row db.Instance
	var newExp time.Time
	var refusal error
	err = d.db.Immediate(ctx, func(tx *db.Tx) error {
		refuse := func(e error, detail map[string]any) error {
			refusal = e
			return d.audit(ctx, tx, c, audit.Extend, id, audit.Refused, e.Error(), detail)
		}
		rows, err := db.ListInstances(ctx, tx, db.InstanceFilter{IDs: []string{id}})
		if err != nil {
			return err
		}
		if len(rows) == 0 || rows[0].Owner != c.Name {
			return refuse(&tollgate.Error{Code: tollgate.CodeNotOwner, Message: fmt.Sprintf("not your instance: %s", id)}, nil)
		}
		row = rows[0]
		if !row.Live() {
			return refuse(&tollgate.Error{Code: tollgate.CodeConflict, Message: fmt.Sprintf("instance %s is %s: there is no lease to extend", row.ID, row.State)}, nil)
		}
		usage, err := d.holdings(ctx, tx, c.Name, now, nil)
		if err != nil {
			return err
		}
		usage.SpentUSD = spent
		exp, ref := quota.AdmitExtend(pol, usage, d.leaseOf(row), row.LaunchedAt, dur, now)
		if ref != nil {
			return refuse(ref, map[string]any{"limit": ref.Limit, "code": ref.Code, "duration": quota.FormatDuration(dur)})
		}
		newExp = exp
		return db.SetInstanceExpiry(ctx, tx, row.ID, newExp)
	})
	if err != nil {
		return db.Instance{}, time.Time{}, fmt.Errorf("admit extend: %w", err)
	}
	if refusal != nil {
		return db.Instance{}, time.Time{}, refusal
	}
	return row, newExp, nil
}

// tagExpiry writes the new expiry tag; the database already holds it.
func (d *Daemon) tagExpiry(ctx context.Context, row db.Instance, exp time.Time) error {
	return d.cloud.CreateTags(ctx, row.Region, []string{row.ID}, map[string]string{
		cloud.TagExpires: exp.UTC().Format(time.RFC3339)})
}
