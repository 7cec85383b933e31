package broker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

// maxIDs bounds one stop/start/terminate request.
const maxIDs = 1000

func (d *Daemon) handleInstances(ctx context.Context, c *caller, r *http.Request) (any, error) {
	ids := r.URL.Query()["id"]
	if len(ids) > 0 {
		var err error
		if ids, err = checkIDs(ids); err != nil {
			return nil, err
		}
	}
	rows, err := d.db.ListInstances(ctx, nil, db.InstanceFilter{Owner: c.Name, IDs: ids, NotGone: len(ids) == 0})
	if err != nil {
		return nil, err
	}
	return d.instanceList(ctx, rows)
}

func (d *Daemon) handleAdminInstances(ctx context.Context, c *caller, r *http.Request) (any, error) {
	q := r.URL.Query()
	flag := func(k string) bool { return q.Get(k) == "1" || q.Get(k) == "true" }
	rows, err := d.db.ListInstances(ctx, nil, db.InstanceFilter{Owner: q.Get("owner"), NotGone: !flag("all")})
	if err != nil {
		return nil, err
	}
	if flag("adopted") {
		kept := rows[:0]
		for _, r := range rows {
			if r.Adopted {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	return d.instanceList(ctx, rows)
}

// actionHandler serves stop, start and terminate. Every id must be known and, unless
// asAdmin, the caller's own; otherwise nothing at all is done.
func (d *Daemon) actionHandler(action string, asAdmin bool) handlerFunc {
	auditAction := audit.ActionOf(map[bool]string{true: "admin"}[asAdmin], action)
	return func(ctx context.Context, c *caller, r *http.Request) (any, error) {
		var req api.IDsRequest
		if err := decodeBody(r, &req, maxBody); err != nil {
			d.audit(ctx, nil, c, auditAction, "", audit.Refused, err.Error(), nil)
			return nil, err
		}
		ids, err := checkIDs(req.IDs)
		if err != nil {
			d.audit(ctx, nil, c, auditAction, "", audit.Refused, err.Error(), nil)
			return nil, err
		}
		rows, err := d.db.ListInstances(ctx, nil, db.InstanceFilter{IDs: ids})
		if err != nil {
			return nil, err
		}
		byID := map[string]db.Instance{}
		for _, row := range rows {
			byID[row.ID] = row
		}
		var bad []string
		for _, id := range ids {
			row, ok := byID[id]
			if !ok || (!asAdmin && row.Owner != c.Name) {
				bad = append(bad, id)
			}
		}
		if len(bad) > 0 {
			e := &tollgate.Error{Code: tollgate.CodeNotOwner, Message: fmt.Sprintf("not your instance: %s (nothing was done)", strings.Join(bad, ", ")),
				Hint: "`tollgate ls` lists your instances"}
			if asAdmin {
				e = &tollgate.Error{Code: tollgate.CodeNotFound, Message: fmt.Sprintf("unknown instance: %s (nothing was done)", strings.Join(bad, ", "))}
			}
			d.audit(ctx, nil, c, auditAction, joinIDs(ids), audit.Refused, e.Message, nil)
			return nil, e
		}
		ar := fleet.ActionRequest{Kind: action, Actor: c.actor(), Instances: make([]db.Instance, len(ids))}
		if asAdmin {
			ar.Prefix = "admin"
		}
		for i, id := range ids {
			ar.Instances[i] = byID[id]
		}
		var results []fleet.ActionResult
		if action == fleet.Start {
			// Admission and the intent commit together (the instances count as pending
			// for concurrent launches and starts); a refusal is audited in it.
			in, err := d.admitStart(ctx, c, ar)
			if err != nil {
				return nil, err
			}
			results = d.fleet.Carry(ctx, in)
		} else if results, err = d.fleet.Act(ctx, ar); err != nil {
			return nil, err
		}
		out := api.ActionResponse{Results: make([]api.ActionResult, len(results))}
		for i, r := range results {
			out.Results[i] = api.ActionResult{ID: r.ID, State: r.State, Error: r.Err}
		}
		return out, nil
	}
}

// checkIDs deduplicates ids and checks they look like instance ids.
func checkIDs(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "no instance ids given"}
	}
	if len(ids) > maxIDs {
		return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("at most %d instance ids per request", maxIDs)}
	}
	var out []string
	for _, id := range ids {
		if !validInstanceID(id) {
			return nil, badInstanceID(id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (d *Daemon) handleExtend(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.ExtendRequest
	target := "" // the id once it is known to be one
	refuse := func(err error) (any, error) {
		d.audit(ctx, nil, c, audit.Extend, target, audit.Refused, err.Error(), map[string]any{"duration": req.Duration})
		return nil, err
	}
	if err := decodeBody(r, &req, maxBody); err != nil {
		return refuse(err)
	}
	if !validInstanceID(req.ID) {
		return refuse(badInstanceID(req.ID))
	}
	target = req.ID
	dur, err := quota.ParseDuration(req.Duration)
	if err != nil {
		return refuse(&tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "duration: " + err.Error()})
	}
	row, newExp, err := d.admitExtend(ctx, c, req.ID, dur)
	if err != nil {
		return nil, err // a refusal is audited in the admission transaction
	}
	if err := d.tagExpiry(ctx, row, newExp); err != nil {
		if rerr := db.RevertInstanceExpiry(context.WithoutCancel(ctx), d.db, row.ID, newExp, row.ExpiresAt); rerr != nil {
			d.log.Error("undo extend", logInstance, row.ID, logErr, rerr)
		}
		e := &tollgate.Error{Code: tollgate.CodeCloudError, Message: fmt.Sprintf("tag %s with its new expiry: %v", row.ID, err)}
		d.audit(ctx, nil, c, audit.Extend, row.ID, audit.Failed, e.Message, nil)
		return nil, e
	}
	d.audit(ctx, nil, c, audit.Extend, row.ID, audit.Allowed, "",
		map[string]any{"duration": quota.FormatDuration(dur), "expires_at": newExp.UTC().Format(time.RFC3339)})
	row.ExpiresAt = newExp
	return apiInstance(row), nil
}

func (d *Daemon) handleQuota(ctx context.Context, c *caller, r *http.Request) (any, error) {
	pol, err := d.policyFor(c)
	if err != nil {
		return nil, err
	}
	now := d.now()
	usage, err := d.holdings(ctx, d.db, c.Name, now, nil)
	if err != nil {
		return nil, err
	}
	if usage.SpentUSD, err = d.spent(ctx, c.Name, pol, now); err != nil {
		return nil, err
	}
	return api.QuotaResponse{User: c.Name, Policy: pol, Usage: usage, PeriodStart: d.periodStart(pol, c.Name, now)}, nil
}
