package broker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/iamusers"
)

func (d *Daemon) handleWhoAmI(ctx context.Context, c *caller, r *http.Request) (any, error) {
	groups := c.Groups
	if groups == nil {
		groups = []string{}
	}
	return api.WhoAmI{User: c.Name, UID: c.UID, Groups: groups, Admin: c.Admin, Enrolled: c.Enrolled,
		Disabled: c.Disabled, Version: Version}, nil
}

func (d *Daemon) handleUsage(ctx context.Context, c *caller, r *http.Request) (any, error) {
	u, err := d.acct.Usage(ctx, c.Name)
	if err != nil {
		return nil, fmt.Errorf("usage of %s: %w", c.Name, err)
	}
	return u, nil
}

func (d *Daemon) handleNotices(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if c.Name == "" {
		return api.NoticeList{Notices: []accounting.Notice{}}, nil
	}
	all := r.URL.Query().Get("all") == "1"
	ns, err := d.notices.Notices(ctx, c.Name, all)
	if err != nil {
		return nil, fmt.Errorf("notices of %s: %w", c.Name, err)
	}
	if c.Admin {
		// Admins also read the admins' inbox (adoptions to check, ...).
		an, err := d.notices.Notices(ctx, enforce.AdminInbox, all)
		if err != nil {
			return nil, fmt.Errorf("admin notices: %w", err)
		}
		ns = append(ns, an...)
		slices.SortStableFunc(ns, func(a, b accounting.Notice) int { return a.At.Compare(b.At) })
	}
	if ns == nil {
		ns = []accounting.Notice{}
	}
	return api.NoticeList{Notices: ns}, nil
}

func (d *Daemon) handleAudit(ctx context.Context, c *caller, r *http.Request) (any, error) {
	q := r.URL.Query()
	f := db.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("since %q is not an RFC 3339 time", s)}
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("limit %q is not a number from 1 to 100000", s)}
		}
		f.Limit = n
	}
	es, err := d.db.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	if es == nil {
		es = []db.AuditEntry{}
	}
	return api.AuditList{Entries: es}, nil
}

func (d *Daemon) handleCollect(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if err := decodeBody(r, &struct{}{}, maxBody); err != nil {
		return nil, err
	}
	res, err := d.acct.Collect(ctx)
	if err != nil {
		d.audit(ctx, nil, c, audit.Collect, "", audit.Failed, err.Error(), nil)
		return nil, &tollgate.Error{Code: tollgate.CodeCloudError, Message: "collect: " + err.Error()}
	}
	d.audit(ctx, nil, c, audit.Collect, "", audit.Allowed, "", map[string]any{"instances": res.Instances})
	return res, nil
}

func (d *Daemon) handleReport(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req accounting.ReportRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		return nil, err
	}
	rep, err := d.acct.Report(ctx, req)
	if err != nil {
		return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "report: " + err.Error()}
	}
	return rep, nil
}

func (d *Daemon) handleIAMList(ctx context.Context, c *caller, r *http.Request) (any, error) {
	ids, err := d.iam.List(ctx)
	if err != nil {
		return nil, iamError("list IAM identities", err)
	}
	if ids == nil {
		ids = []iamusers.Identity{}
	}
	return api.IdentityList{Identities: ids}, nil
}

func (d *Daemon) handleIAMRevoke(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.IAMRevokeRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, audit.IAMRevoke, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	if (req.User == "") == !req.All {
		e := &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: "name one user, or ask for all"}
		if req.User != "" {
			e.Message = "name one user or ask for all, not both"
		}
		d.audit(ctx, nil, c, audit.IAMRevoke, req.User, audit.Refused, e.Message, nil)
		return nil, e
	}
	var revoked []string
	var failures []api.IAMRevokeFailure
	var err error
	actx := iamusers.WithActor(ctx, c.actor())
	if req.All {
		var res iamusers.RevokeResult
		res, err = d.iam.RevokeAll(actx)
		revoked = res.Revoked
		for _, f := range res.Failures {
			failures = append(failures, api.IAMRevokeFailure{IAMUser: f.IAMUser, User: f.User, Step: f.Step, Error: f.Err.Error()})
		}
	} else if err = d.iam.Revoke(actx, req.User); err == nil {
		revoked = []string{req.User}
	}
	target := req.User
	if req.All {
		target = "*"
	}
	if err != nil {
		e := iamError("revoke IAM identity", err)
		d.audit(ctx, nil, c, audit.IAMRevoke, target, auditDecision(e), err.Error(), nil)
		return nil, e
	}
	if revoked == nil {
		revoked = []string{}
	}
	if len(failures) > 0 {
		d.audit(ctx, nil, c, audit.IAMRevoke, target, audit.Failed, fmt.Sprintf("%d not revoked", len(failures)),
			map[string]any{"revoked": revoked, "failures": failures})
		return api.IAMRevokeResponse{Revoked: revoked, Failures: failures}, nil
	}
	d.audit(ctx, nil, c, audit.IAMRevoke, target, audit.Allowed, "", map[string]any{"revoked": revoked})
	return api.IAMRevokeResponse{Revoked: revoked}, nil
}
