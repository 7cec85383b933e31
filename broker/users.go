package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/iamusers"
	"github.com/tollgate/tollgate/quota"
)

func apiUser(u db.User) api.User {
	o, _ := parseOverride(u.Overrides)
	return api.User{Name: u.Name, UID: u.UID, Group: u.Group, Source: u.Source, Disabled: u.Disabled,
		Active: !u.Disabled && u.Source != db.SourceGroup, Override: o, CreatedAt: u.CreatedAt}
}

func (d *Daemon) handleUsers(ctx context.Context, c *caller, r *http.Request) (any, error) {
	rows, err := d.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := api.UserList{Users: []api.User{}}
	for _, u := range rows {
		au := apiUser(u)
		// Where the enrolment comes from now: a group enrolment holds only while the
		// user is a member (the name service decides, as at every request).
		if info, err := d.users.LookupName(u.Name); err == nil {
			au.EnrollGroup = d.enrollGroupOf(info)
		} else if !errors.Is(err, ErrNoSuchUser) {
			return nil, err
		}
		au.Active = !u.Disabled && (u.Source != db.SourceGroup || au.EnrollGroup != "")
		out.Users = append(out.Users, au)
	}
	return out, nil
}

// enrolment is one user to enrol, with where it came from (a roster line, or 0).
type enrolment struct {
	line  int
	name  string
	group string
}

func (d *Daemon) handleUsersAdd(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.UsersAddRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, audit.UsersAdd, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	var es []enrolment
	for _, u := range req.Users {
		es = append(es, enrolment{name: u, group: req.Group})
	}
	return d.enrol(ctx, c, "users.add", db.SourceAdmin, es)
}

func (d *Daemon) handleUsersImport(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.UsersImportRequest
	if err := decodeBody(r, &req, 4<<20); err != nil {
		d.audit(ctx, nil, c, audit.UsersImport, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	var es []enrolment
	for _, e := range req.Entries {
		es = append(es, enrolment{line: e.Line, name: e.User, group: e.Group})
	}
	return d.enrol(ctx, c, "users.import", db.SourceRoster, es)
}

// enrol enrols every entry or none: each name must exist in the name service, appear
// once and not be enrolled already. Every bad entry is reported, not only the first.
func (d *Daemon) enrol(ctx context.Context, c *caller, action, source string, es []enrolment) (any, error) {
	refuse := func(msg string) (any, error) {
		d.audit(ctx, nil, c, action, "", audit.Refused, msg, map[string]any{"entries": len(es)})
		return nil, &tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: msg}
	}
	if len(es) == 0 {
		return refuse("no users given")
	}
	now := d.now()
	var problems []string
	where := func(e enrolment) string {
		if e.line > 0 {
			return fmt.Sprintf("line %d: ", e.line)
		}
		return ""
	}
	seen := map[string]bool{}
	var rows []db.User
	for _, e := range es {
		name := strings.TrimSpace(e.name)
		switch {
		case name == "":
			problems = append(problems, where(e)+"empty user name")
			continue
		case seen[name]:
			problems = append(problems, fmt.Sprintf("%s%s appears more than once", where(e), name))
			continue
		}
		seen[name] = true
		if err := tollgate.CheckLabel("group", e.group); err != nil {
			problems = append(problems, where(e)+name+": "+err.Error())
			continue
		}
		info, err := d.users.LookupName(name)
		if err != nil {
			if errors.Is(err, ErrNoSuchUser) {
				problems = append(problems, fmt.Sprintf("%sno such user %q in the name service", where(e), name))
				continue
			}
			return nil, err
		}
		rows = append(rows, db.User{Name: info.Name, UID: info.UID, Source: source, Group: e.group, CreatedAt: now})
	}
	if len(problems) > 0 {
		return refuse(fmt.Sprintf("%d bad %s, nothing enrolled: %s", len(problems), plural(len(problems), "entry", "entries"),
			strings.Join(problems, "; ")))
	}
	var dup []string
	promote := map[string]bool{} // enrolled through a group until now: kept, re-sourced
	err := d.db.Immediate(ctx, func(tx *db.Tx) error {
		for _, u := range rows {
			if old, ok, err := db.GetUser(ctx, tx, u.Name); err != nil {
				return err
			} else if ok && old.Source == db.SourceGroup {
				promote[u.Name] = true
			} else if ok {
				dup = append(dup, u.Name)
			}
		}
		if len(dup) > 0 {
			return nil
		}
		for _, u := range rows {
			write := db.InsertUser
			if promote[u.Name] {
				write = db.ResourceUser
			}
			if err := write(ctx, tx, u); err != nil {
				return err
			}
		}
		names := make([]string, len(rows))
		for i, u := range rows {
			names[i] = u.Name
		}
		return d.audit(ctx, tx, c, action, strings.Join(names, ","), audit.Allowed, "", map[string]any{"count": len(rows)})
	})
	if err != nil {
		return nil, err
	}
	if len(dup) > 0 {
		msg := fmt.Sprintf("already enrolled, nothing enrolled: %s", strings.Join(dup, ", "))
		d.audit(ctx, nil, c, action, "", audit.Refused, msg, nil)
		return nil, &tollgate.Error{Code: tollgate.CodeConflict, Message: msg}
	}
	out := api.UserList{Users: []api.User{}}
	for _, u := range rows {
		out.Users = append(out.Users, apiUser(u))
	}
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// overrideKeys are the JSON names of quota.Override's fields: what `users set --clear`
// may name.
var overrideKeys = func() []string {
	var out []string
	t := reflect.TypeOf(quota.Override{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}()

func (d *Daemon) handleUsersSet(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.UserSetRequest
	refuse := func(err error) (any, error) {
		d.audit(ctx, nil, c, audit.UsersSet, req.User, audit.Refused, err.Error(), nil)
		return nil, err
	}
	if err := decodeBody(r, &req, maxBody); err != nil {
		return refuse(err)
	}
	for _, k := range req.Clear {
		if !slices.Contains(overrideKeys, k) {
			return refuse(&tollgate.Error{Code: tollgate.CodeInvalidRequest, Message: fmt.Sprintf("cannot clear %q: not a policy key (keys: %s)",
				k, strings.Join(overrideKeys, ", "))})
		}
	}
	var out api.User
	var refusal *tollgate.Error
	err := d.db.Immediate(ctx, func(tx *db.Tx) error {
		u, ok, err := db.GetUser(ctx, tx, req.User)
		if err != nil {
			return err
		}
		if !ok {
			refusal = &tollgate.Error{Code: tollgate.CodeNotFound, Message: fmt.Sprintf("%s is not enrolled", req.User)}
			return nil
		}
		merged, err := mergeOverride(u.Overrides, req.Set, req.Clear)
		if err != nil {
			return err
		}
		var groups []string
		if info, err := d.users.LookupName(req.User); err == nil {
			groups = info.Groups
		}
		var o quota.Override
		if err := json.Unmarshal([]byte(merged), &o); err != nil {
			return err
		}
		if verr := d.cfg.EffectivePolicy(groups, &o).Validate(); verr != nil {
			refusal = &tollgate.Error{Code: tollgate.CodeInvalidRequest,
				Message: fmt.Sprintf("the resulting policy of %s is invalid: %s", req.User, strings.ReplaceAll(verr.Error(), "\n", "; "))}
			return nil
		}
		if _, err := db.SetUserOverrides(ctx, tx, req.User, merged, d.now()); err != nil {
			return err
		}
		u.Overrides = merged
		out = apiUser(u)
		return d.audit(ctx, tx, c, audit.UsersSet, req.User, audit.Allowed, "", map[string]any{"override": json.RawMessage(merged)})
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return refuse(refusal)
	}
	return out, nil
}

// mergeOverride overlays set on the stored override JSON and removes the clear keys.
func mergeOverride(stored string, set quota.Override, clear []string) (string, error) {
	cur := map[string]json.RawMessage{}
	if stored != "" {
		if err := json.Unmarshal([]byte(stored), &cur); err != nil {
			return "", fmt.Errorf("stored override: %w", err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return "", err
	}
	add := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &add); err != nil {
		return "", err
	}
	for k, v := range add {
		cur[k] = v
	}
	for _, k := range clear {
		delete(cur, k)
	}
	out, err := json.Marshal(cur)
	return string(out), err
}

func (d *Daemon) handleUsersDisable(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.UserNameRequest
	action := audit.UsersDisable
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, action, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	if req.Enable {
		action = audit.UsersEnable
	}
	var out api.User
	var found bool
	err := d.db.Immediate(ctx, func(tx *db.Tx) error {
		var err error
		if found, err = db.SetUserDisabled(ctx, tx, req.User, !req.Enable, d.now()); err != nil || !found {
			return err
		}
		u, _, err := db.GetUser(ctx, tx, req.User)
		if err != nil {
			return err
		}
		out = apiUser(u)
		return d.audit(ctx, tx, c, action, req.User, audit.Allowed, "", nil)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		e := &tollgate.Error{Code: tollgate.CodeNotFound, Message: fmt.Sprintf("%s is not enrolled", req.User)}
		d.audit(ctx, nil, c, action, req.User, audit.Refused, e.Message, nil)
		return nil, e
	}
	if !req.Enable {
		d.revokeIAM(ctx, c, req.User)
	}
	return out, nil
}

func (d *Daemon) handleUsersRemove(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.UserNameRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, audit.UsersRemove, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	var refusal *tollgate.Error
	err := d.db.Immediate(ctx, func(tx *db.Tx) error {
		live, err := db.ListInstances(ctx, tx, db.InstanceFilter{Owner: req.User, LiveOnly: true})
		if err != nil {
			return err
		}
		if len(live) > 0 {
			ids := make([]string, len(live))
			for i, in := range live {
				ids[i] = in.ID
			}
			refusal = &tollgate.Error{Code: tollgate.CodeConflict,
				Message: fmt.Sprintf("%s still has %d live %s: %s", req.User, len(ids), plural(len(ids), "instance", "instances"), strings.Join(ids, ", ")),
				Hint:    "terminate them first (tollgate admin instances terminate ID…), or disable the user instead"}
			return nil
		}
		ok, err := db.DeleteUser(ctx, tx, req.User)
		if err != nil {
			return err
		}
		if !ok {
			refusal = &tollgate.Error{Code: tollgate.CodeNotFound, Message: fmt.Sprintf("%s is not enrolled", req.User)}
			return nil
		}
		return d.audit(ctx, tx, c, audit.UsersRemove, req.User, audit.Allowed, "", nil)
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		d.audit(ctx, nil, c, audit.UsersRemove, req.User, audit.Refused, refusal.Message, nil)
		return nil, refusal
	}
	d.revokeIAM(ctx, c, req.User)
	return api.Empty{}, nil
}

// revokeIAM revokes a disabled or removed user's IAM identity. A user without one is
// fine; any other failure is logged and audited, not fatal: the enrolment change stands.
func (d *Daemon) revokeIAM(ctx context.Context, c *caller, user string) {
	err := d.iam.Revoke(iamusers.WithActor(ctx, c.actor()), user)
	if err == nil || errors.Is(err, iamusers.ErrNotFound) {
		return
	}
	d.log.Warn("revoke IAM identity", logUser, user, logErr, err)
	d.audit(ctx, nil, c, audit.IAMRevoke, user, audit.Failed, err.Error(), nil)
}
