package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Instance actions.
const (
	Stop      = "stop"
	Start     = "start"
	Terminate = "terminate"
)

// transitional is the state an instance is recorded in from the intent of kind on, when
// kind changes an instance in state from: the database never says running for an
// instance the cloud is stopping or terminating, even if the settlement is never
// written. "" means kind leaves an instance in from as it is.
func transitional(kind, from string) string {
	switch kind {
	case Stop:
		if from == "pending" || from == "running" {
			return "stopping"
		}
	case Start:
		if from == "stopped" {
			return "pending"
		}
	case Terminate:
		if from != "shutting-down" && from != "terminated" {
			return "shutting-down"
		}
	}
	return ""
}

// tookEffect reports whether an instance the cloud reports in state has had kind carried
// out (or is on its way).
func tookEffect(kind, state string) bool {
	switch kind {
	case Stop:
		return state == "stopping" || state == "stopped" || state == "shutting-down" || state == "terminated"
	case Start:
		return state == "pending" || state == "running"
	default:
		return state == "shutting-down" || state == "terminated"
	}
}

// ActionRequest is one stop, start or terminate of known instances, decided by Actor.
type ActionRequest struct {
	Kind  string         // Stop, Start or Terminate
	Actor tollgate.Actor // the user, or the subsystem (reaper, budget, balancer, ...)
	// Prefix names who decided in the audit action: "" (the user's own), "admin",
	// "reap", "budget", ... (see audit.ActionOf).
	Prefix    string
	Instances []db.Instance // the database's rows; the caller has checked ownership
	// Reason, if set, is each instance's audit reason (entries are grouped by region and
	// reason).
	Reason func(db.Instance) string
}

// ActionResult is what became of one instance.
type ActionResult struct {
	ID    string
	State string          // the state the cloud reported (on success)
	Err   *tollgate.Error // why it was not done
}

// Intent is an action whose intent is written (see IntendActions); Carry carries it out.
type Intent struct {
	req     ActionRequest
	records map[string]int64  // instance id → action record id
	prev    map[string]string // instance id → state before the intent
	trans   map[string]string // instance id → transitional state recorded ("" = none)
}

// Act is the one instance-action path: the intent (action records, transitional
// states and the audit entry, in one transaction) before the cloud call, then the call,
// then the settlement. A crash or a failed write after the intent leaves records that
// Reconcile settles from what the cloud says. Nothing is done if the intent cannot be
// written.
func (f *Fleet) Act(ctx context.Context, req ActionRequest) ([]ActionResult, error) {
	var in *Intent
	err := f.db.Immediate(ctx, func(tx *db.Tx) error {
		var err error
		in, err = f.IntendActions(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record the intent to %s: %w", req.Kind, err)
	}
	return f.Carry(ctx, in), nil
}

// IntendActions writes req's intent through q, an open transaction (a start admission
// writes it with its decision, so concurrent requests count the instances as pending).
func (f *Fleet) IntendActions(ctx context.Context, q db.Querier, req ActionRequest) (*Intent, error) {
	if req.Kind != Stop && req.Kind != Start && req.Kind != Terminate {
		return nil, fmt.Errorf("fleet: unknown action %q", req.Kind)
	}
	now := f.now()
	in := &Intent{req: req, records: map[string]int64{}, prev: map[string]string{}, trans: map[string]string{}}
	action := audit.ActionOf(req.Prefix, req.Kind)
	for _, row := range req.Instances {
		id, err := db.InsertAction(ctx, q, db.Action{InstanceID: row.ID, Region: row.Region, Action: req.Kind,
			AuditAction: action, Actor: req.Actor.AuditName(), UID: req.Actor.AuditUID(), PrevState: row.State, CreatedAt: now})
		if err != nil {
			return nil, err
		}
		in.records[row.ID], in.prev[row.ID] = id, row.State
		if st := transitional(req.Kind, row.State); st != "" {
			if err := db.UpdateInstanceState(ctx, q, row.ID, st, "", "", now); err != nil {
				return nil, err
			}
			in.trans[row.ID] = st
		}
	}
	for _, g := range groups(req) {
		detail := map[string]any{"region": g.region}
		if owners := ownersOf(g.rows); len(owners) > 0 {
			detail["owners"] = owners
		}
		if len(g.rows) == 1 {
			detail["previous_state"] = g.rows[0].State
		}
		if err := f.audit.Record(ctx, q, req.Actor, audit.Entry{Action: action, Target: joinIDs(idsOf(g.rows)),
			Decision: decisionOf(req.Actor), Reason: g.reason, Detail: detail}); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// group is the instances of one region with one audit reason.
type group struct {
	region, reason string
	rows           []db.Instance
}

// groups splits req's instances by region and reason, in a stable order.
func groups(req ActionRequest) []group {
	var out []group
	idx := map[[2]string]int{}
	for _, row := range req.Instances {
		reason := ""
		if req.Reason != nil {
			reason = req.Reason(row)
		}
		k := [2]string{row.Region, reason}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, group{region: row.Region, reason: reason})
		}
		out[i].rows = append(out[i].rows, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].region < out[j].region })
	return out
}

// Carry calls the cloud for in's instances, one call per region, and settles each
// record from the answer. A region whose call failed ambiguously is settled from a fresh
// look at its instances, or left to Reconcile when even that fails.
func (f *Fleet) Carry(ctx context.Context, in *Intent) []ActionResult {
	f.hooks.call(func(h *Hooks) func() { return h.BeforeCall })
	byRegion := map[string][]string{}
	var regions []string
	for _, row := range in.req.Instances {
		if _, ok := byRegion[row.Region]; !ok {
			regions = append(regions, row.Region)
		}
		byRegion[row.Region] = append(byRegion[row.Region], row.ID)
	}
	sort.Strings(regions)
	results := map[string]ActionResult{}
	for _, region := range regions {
		ids := byRegion[region]
		for _, r := range f.carryRegion(ctx, in, region, ids) {
			results[r.ID] = r
		}
	}
	out := make([]ActionResult, 0, len(in.req.Instances))
	for _, row := range in.req.Instances {
		out = append(out, results[row.ID])
	}
	return out
}

func (f *Fleet) carryRegion(ctx context.Context, in *Intent, region string, ids []string) []ActionResult {
	kind := in.req.Kind
	call := map[string]func(context.Context, string, []string) ([]cloud.StateChange, error){
		Stop: f.cloud.StopInstances, Start: f.cloud.StartInstances, Terminate: f.cloud.TerminateInstances,
	}[kind]
	changes, err := call(ctx, region, ids)
	current := map[string]string{}
	switch {
	case err == nil:
		for _, ch := range changes {
			current[ch.ID] = ch.Current
		}
	case definiteRefusal(err):
		// Nothing was done: every record fails and the states go back.
	default:
		// Ambiguous: the cloud may have acted. Look before deciding.
		found, derr := f.cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: ids})
		if derr != nil {
			f.log.Warn("action outcome unknown; reconcile will settle it", logAction, kind, logRegion, region, logErr, err)
			e := tollgate.Errorf(tollgate.CodeCloudError, "%s in %s: %v (the outcome is unknown; reconcile will settle it)", kind, region, err)
			out := make([]ActionResult, len(ids))
			for i, id := range ids {
				out[i] = ActionResult{ID: id, Err: e}
			}
			return out
		}
		for _, ci := range found {
			if tookEffect(kind, ci.State) {
				current[ci.ID] = ci.State
			}
		}
	}
	out := make([]ActionResult, len(ids))
	var failed []string
	for i, id := range ids {
		if st, ok := current[id]; ok {
			out[i] = ActionResult{ID: id, State: st}
			continue
		}
		msg := "EC2 reported no state change"
		if err != nil {
			msg = fmt.Sprintf("%s in %s: %v", kind, region, err)
		}
		out[i] = ActionResult{ID: id, Err: tollgate.Errorf(tollgate.CodeCloudError, "%s", msg)}
		failed = append(failed, id)
	}
	if serr := f.settle(ctx, in, region, out, failed); serr != nil {
		// The cloud has acted (or refused); the records stay requested for Reconcile,
		// and the instances keep their transitional states meanwhile.
		f.log.Error("settle action; reconcile will settle it", logAction, kind, logRegion, region, logErr, serr)
	}
	return out
}

// settle writes the outcome of one region's call in one transaction: done records with
// the states the cloud reported, failed ones with their states put back and a failed
// audit entry.
func (f *Fleet) settle(ctx context.Context, in *Intent, region string, results []ActionResult, failed []string) error {
	if h := f.hooks; h != nil && h.BeforeSettle != nil {
		if err := h.BeforeSettle(); err != nil {
			return err
		}
	}
	ctx = context.WithoutCancel(ctx) // the cloud has answered: record it even if the caller went away
	now := f.now()
	return f.db.Immediate(ctx, func(tx *db.Tx) error {
		for _, r := range results {
			if r.Err == nil {
				if _, err := db.SettleAction(ctx, tx, in.records[r.ID], db.ActionDone, r.State, now); err != nil {
					return err
				}
				if err := db.UpdateInstanceState(ctx, tx, r.ID, r.State, "", "", now); err != nil {
					return err
				}
				continue
			}
			if _, err := db.SettleAction(ctx, tx, in.records[r.ID], db.ActionFailed, r.Err.Message, now); err != nil {
				return err
			}
			if st := in.trans[r.ID]; st != "" {
				if err := db.RevertInstanceState(ctx, tx, r.ID, st, in.prev[r.ID], now); err != nil {
					return err
				}
			}
		}
		if len(failed) == 0 {
			return nil
		}
		msg := ""
		for _, r := range results {
			if r.Err != nil {
				msg = r.Err.Message
				break
			}
		}
		return f.audit.Record(ctx, tx, in.req.Actor, audit.Entry{Action: audit.ActionOf(in.req.Prefix, in.req.Kind),
			Target: joinIDs(failed), Decision: audit.Failed, Reason: msg, Detail: map[string]any{"region": region}})
	})
}

// settleOpenActions settles action records left requested, older than grace, from the
// instances' states in the cloud: an action that took effect is done, one that did not
// (the daemon died before the call) failed; either way the instance's state is the
// cloud's, and the settlement is audited.
func (f *Fleet) settleOpenActions(ctx context.Context, grace time.Duration) ([]int64, error) {
	open, err := f.db.OpenActions(ctx)
	if err != nil {
		return nil, err
	}
	byRegion := map[string][]db.Action{}
	var regions []string
	for _, a := range open {
		if f.now().Sub(a.CreatedAt) < grace {
			continue
		}
		if _, ok := byRegion[a.Region]; !ok {
			regions = append(regions, a.Region)
		}
		byRegion[a.Region] = append(byRegion[a.Region], a)
	}
	sort.Strings(regions)
	var settled []int64
	var errs []error
	for _, region := range regions {
		acts := byRegion[region]
		var ids []string
		for _, a := range acts {
			if !slices.Contains(ids, a.InstanceID) {
				ids = append(ids, a.InstanceID)
			}
		}
		found, err := f.cloud.DescribeInstances(ctx, region, cloud.Filter{IDs: ids})
		if err != nil {
			errs = append(errs, fmt.Errorf("look up instances of interrupted actions in %s: %w", region, err))
			continue
		}
		state := map[string]cloud.Instance{}
		for _, ci := range found {
			state[ci.ID] = ci
		}
		now := f.now()
		for _, a := range acts {
			ci, ok := state[a.InstanceID]
			st := ci.State
			if !ok {
				st = "terminated" // gone from the cloud: nothing is left to stop or start
			}
			outcome, result := db.ActionDone, st
			if !tookEffect(a.Action, st) {
				outcome, result = db.ActionFailed, "not carried out: the instance is "+st
			}
			err := f.db.Immediate(ctx, func(tx *db.Tx) error {
				ok, err := db.SettleAction(ctx, tx, a.ID, outcome, result, now)
				if err != nil || !ok {
					return err
				}
				if err := db.UpdateInstanceState(ctx, tx, a.InstanceID, st, ci.PublicIP, ci.PrivateIP, now); err != nil {
					return err
				}
				return f.audit.Record(ctx, tx, reconciler, audit.Entry{Action: audit.ReconcileAction, Target: a.InstanceID,
					Decision: audit.Done, Reason: fmt.Sprintf("interrupted %s settled: %s", a.AuditAction, result),
					Detail: map[string]any{"action": a.AuditAction, "actor": a.Actor, "outcome": outcome, "region": region}})
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("settle action %d on %s: %w", a.ID, a.InstanceID, err))
				continue
			}
			settled = append(settled, a.ID)
			f.log.Info("reconcile: interrupted action settled", logInstance, a.InstanceID, logAction, a.AuditAction, "outcome", outcome)
		}
	}
	return settled, errors.Join(errs...)
}

func idsOf(rows []db.Instance) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func ownersOf(rows []db.Instance) []string {
	var out []string
	for _, r := range rows {
		if r.Owner != "" && !slices.Contains(out, r.Owner) {
			out = append(out, r.Owner)
		}
	}
	return out
}
