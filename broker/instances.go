package broker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
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
	all := q.Get("all") == "1" || q.Get("all") == "true"
	rows, err := d.db.ListInstances(ctx, nil, db.InstanceFilter{Owner: q.Get("owner"), NotGone: !all})
	if err != nil {
		return nil, err
	}
	return d.instanceList(ctx, rows)
}

// actionHandler serves stop, start and terminate. Every id must be known and, unless
// asAdmin, the caller's own; otherwise nothing at all is done.
func (d *Daemon) actionHandler(action string, asAdmin bool) handlerFunc {
	auditAction := action
	if asAdmin {
		auditAction = "admin." + action
	}
	return func(ctx context.Context, c *caller, r *http.Request) (any, error) {
		var req api.IDsRequest
		if err := decodeBody(r, &req, maxBody); err != nil {
			d.audit(ctx, nil, c, auditAction, "", db.Refused, err.Error(), nil)
			return nil, err
		}
		ids, err := checkIDs(req.IDs)
		if err != nil {
			d.audit(ctx, nil, c, auditAction, "", db.Refused, err.Error(), nil)
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
			e := &api.Error{Code: api.CodeNotOwner, Message: fmt.Sprintf("not your instance: %s (nothing was done)", strings.Join(bad, ", ")),
				Hint: "`tollgate ls` lists your instances"}
			if asAdmin {
				e = &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("unknown instance: %s (nothing was done)", strings.Join(bad, ", "))}
			}
			d.audit(ctx, nil, c, auditAction, joinIDs(ids), db.Refused, e.Message, nil)
			return nil, e
		}
		var prev map[string]string
		if action == "start" {
			if prev, err = d.admitStart(ctx, c, auditAction, ids); err != nil {
				return nil, err // a refusal is audited in the admission transaction
			}
		}
		out := d.act(ctx, c, auditAction, action, ids, byID)
		if prev != nil {
			var failed []string
			for _, res := range out.Results {
				if res.Error != nil {
					failed = append(failed, res.ID)
				}
			}
			d.undoStart(context.WithoutCancel(ctx), prev, failed)
		}
		return out, nil
	}
}

// checkIDs deduplicates ids and checks they look like instance ids.
func checkIDs(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, &api.Error{Code: api.CodeInvalidRequest, Message: "no instance ids given"}
	}
	if len(ids) > maxIDs {
		return nil, &api.Error{Code: api.CodeInvalidRequest, Message: fmt.Sprintf("at most %d instance ids per request", maxIDs)}
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

// act calls the cloud per region and records the new states. A region whose call fails
// reports the error on each of its instances.
func (d *Daemon) act(ctx context.Context, c *caller, auditAction, action string, ids []string, byID map[string]db.Instance) api.ActionResponse {
	byRegion := map[string][]string{}
	for _, id := range ids {
		reg := byID[id].Region
		byRegion[reg] = append(byRegion[reg], id)
	}
	regions := make([]string, 0, len(byRegion))
	for reg := range byRegion {
		regions = append(regions, reg)
	}
	sort.Strings(regions)
	results := map[string]api.ActionResult{}
	for _, reg := range regions {
		rids := byRegion[reg]
		var changes []cloud.StateChange
		var err error
		switch action {
		case "stop":
			changes, err = d.cloud.StopInstances(ctx, reg, rids)
		case "start":
			changes, err = d.cloud.StartInstances(ctx, reg, rids)
		default:
			changes, err = d.cloud.TerminateInstances(ctx, reg, rids)
		}
		if err != nil {
			e := &api.Error{Code: api.CodeCloudError, Message: fmt.Sprintf("%s in %s: %v", action, reg, err)}
			for _, id := range rids {
				results[id] = api.ActionResult{ID: id, Error: e}
			}
			d.audit(ctx, nil, c, auditAction, joinIDs(rids), db.Failed, e.Message, map[string]any{"region": reg})
			continue
		}
		now := d.now()
		for _, ch := range changes {
			if err := db.UpdateInstanceState(ctx, d.db.SQL(), ch.ID, ch.Current, "", "", now); err != nil {
				d.log.Error("record state change", logInstance, ch.ID, logErr, err)
			}
			results[ch.ID] = api.ActionResult{ID: ch.ID, State: ch.Current}
		}
		for _, id := range rids {
			if _, ok := results[id]; !ok {
				results[id] = api.ActionResult{ID: id, Error: &api.Error{Code: api.CodeCloudError, Message: "EC2 reported no state change"}}
			}
		}
		detail := map[string]any{"region": reg}
		if owners := ownersOf(rids, byID); len(owners) > 0 {
			detail["owners"] = owners
		}
		d.audit(ctx, nil, c, auditAction, joinIDs(rids), db.Allowed, "", detail)
	}
	out := api.ActionResponse{Results: make([]api.ActionResult, 0, len(ids))}
	for _, id := range ids {
		out.Results = append(out.Results, results[id])
	}
	return out
}

func ownersOf(ids []string, byID map[string]db.Instance) []string {
	var out []string
	for _, id := range ids {
		if o := byID[id].Owner; o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func (d *Daemon) handleExtend(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.ExtendRequest
	target := "" // the id once it is known to be one
	refuse := func(err error) (any, error) {
		d.audit(ctx, nil, c, "extend", target, db.Refused, err.Error(), map[string]any{"duration": req.Duration})
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
		return refuse(&api.Error{Code: api.CodeInvalidRequest, Message: "duration: " + err.Error()})
	}
	row, newExp, err := d.admitExtend(ctx, c, req.ID, dur)
	if err != nil {
		return nil, err // a refusal is audited in the admission transaction
	}
	if err := d.tagExpiry(ctx, row, newExp); err != nil {
		if rerr := db.RevertInstanceExpiry(context.WithoutCancel(ctx), d.db.SQL(), row.ID, newExp, row.ExpiresAt); rerr != nil {
			d.log.Error("undo extend", logInstance, row.ID, logErr, rerr)
		}
		e := &api.Error{Code: api.CodeCloudError, Message: fmt.Sprintf("tag %s with its new expiry: %v", row.ID, err)}
		d.audit(ctx, nil, c, "extend", row.ID, db.Failed, e.Message, nil)
		return nil, e
	}
	d.audit(ctx, nil, c, "extend", row.ID, db.Allowed, "",
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
	usage, err := d.holdings(ctx, d.db.SQL(), c.Name, now, nil)
	if err != nil {
		return nil, err
	}
	if usage.SpentUSD, err = d.spent(ctx, c.Name, pol, now); err != nil {
		return nil, err
	}
	return api.QuotaResponse{User: c.Name, Policy: pol, Usage: usage, PeriodStart: d.periodStart(pol, c.Name, now)}, nil
}
