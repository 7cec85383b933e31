package iamusers

import (
	"context"
	"sort"
	"strings"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// Identity states beyond the database's creating | active | revoking.
const (
	StateUntracked = "untracked" // under the configured path in IAM, unknown to tollgate
	StateMissing   = "missing"   // recorded by tollgate, gone from IAM
)

// List lists every identity tollgate recorded and every IAM user under the configured
// path, with their keys (ids, status, creation) from IAM.
func (s *Service) List(ctx context.Context) ([]Identity, error) {
	if err := s.needCloud(); err != nil {
		return nil, err
	}
	idents, err := s.db.ListIAMIdentities(ctx)
	if err != nil {
		return nil, err
	}
	users, err := s.cloud.ListIAMUsers(ctx, s.cfg.Path)
	if err != nil {
		return nil, err
	}
	inCloud := map[string]cloud.IAMUser{}
	for _, u := range users {
		inCloud[strings.ToLower(u.Name)] = u
	}
	var out []Identity
	for _, r := range idents {
		id := Identity{User: r.User, IAMUser: r.IAMUser, ARN: r.ARN, CreatedAt: r.CreatedAt, LastRotated: r.LastRotated, State: r.State, Keys: []Key{}}
		u, ok := inCloud[strings.ToLower(r.IAMUser)]
		delete(inCloud, strings.ToLower(r.IAMUser))
		if !ok && r.State == db.IAMActive {
			// It may have moved out of our path; ask for it by name.
			if _, ok, err = s.cloud.GetIAMUser(ctx, r.IAMUser); err != nil {
				return nil, err
			}
			if !ok {
				id.State = StateMissing
			}
		}
		if u.ARN != "" {
			id.ARN = u.ARN
		}
		if id.State != StateMissing {
			if id.Keys, err = s.keys(ctx, r.IAMUser); err != nil {
				return nil, err
			}
		}
		out = append(out, id)
	}
	for _, u := range inCloud {
		unix, _ := s.unixUser(u.Name)
		id := Identity{User: unix, IAMUser: u.Name, ARN: u.ARN, CreatedAt: u.CreatedAt, State: StateUntracked}
		if id.Keys, err = s.keys(ctx, u.Name); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IAMUser < out[j].IAMUser })
	return out, nil
}

func (s *Service) keys(ctx context.Context, name string) ([]Key, error) {
	ks, err := s.cloud.ListAccessKeys(ctx, name)
	if cloud.IsNoSuchEntity(err) {
		return []Key{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, Key{ID: k.ID, Status: k.Status, CreatedAt: k.CreatedAt})
	}
	return out, nil
}
