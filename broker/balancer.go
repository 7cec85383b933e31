package broker

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/quota"
)

// Balancer is what the broker needs of the load-driven pools; *balancer.Service
// satisfies it.
type Balancer interface {
	List(ctx context.Context) ([]tollgate.PoolStatus, error)
	Status(ctx context.Context, pool string) (tollgate.PoolStatus, error)
	Pause(ctx context.Context, by tollgate.Actor, pool string) (tollgate.PoolStatus, error)
	Resume(ctx context.Context, by tollgate.Actor, pool string) (tollgate.PoolStatus, error)
	Drain(ctx context.Context, by tollgate.Actor, pool string) (tollgate.PoolStatus, error)
	Set(ctx context.Context, by tollgate.Actor, pool string, min, max int, d time.Duration) (tollgate.PoolStatus, error)
}

// balancerSet is the audit action of an override (balancer.ActionSet).
const balancerSet = "balancer.set"

// noBalancer answers when the daemon runs without the balancer.
var noBalancer = tollgate.Errorf(tollgate.CodeNotFound, "this daemon runs no balancer").
	WithHint("declare pools under [[balancer.pool]] in the configuration")

func (d *Daemon) handlePools(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if d.balancer == nil {
		return api.PoolList{Pools: []tollgate.PoolStatus{}}, nil
	}
	ps, err := d.balancer.List(ctx)
	if err != nil {
		return nil, err
	}
	return api.PoolList{Pools: ps}, nil
}

func (d *Daemon) handlePoolStatus(ctx context.Context, c *caller, r *http.Request) (any, error) {
	if d.balancer == nil {
		return nil, noBalancer
	}
	name := r.URL.Query().Get("pool")
	if name == "" {
		return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "name the pool: ?pool=NAME")
	}
	return d.balancer.Status(ctx, name)
}

// poolAction serves pause, resume and drain.
// poolFn is one of Balancer's Pause, Resume, Drain.
type poolFn = func(context.Context, tollgate.Actor, string) (tollgate.PoolStatus, error)

func (d *Daemon) poolAction(action string, fn func(b Balancer) poolFn) handlerFunc {
	return func(ctx context.Context, c *caller, r *http.Request) (any, error) {
		var req api.PoolRequest
		if err := decodeBody(r, &req, maxBody); err != nil {
			d.audit(ctx, nil, c, action, "", audit.Refused, err.Error(), nil)
			return nil, err
		}
		if d.balancer == nil {
			return nil, noBalancer
		}
		return fn(d.balancer)(ctx, c.actor(), req.Pool)
	}
}

func (d *Daemon) handlePoolSet(ctx context.Context, c *caller, r *http.Request) (any, error) {
	var req api.PoolSetRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, balancerSet, "", audit.Refused, err.Error(), nil)
		return nil, err
	}
	if d.balancer == nil {
		return nil, noBalancer
	}
	if req.Clear {
		return d.balancer.Set(ctx, c.actor(), req.Pool, -1, -1, 0)
	}
	if req.For == "" {
		return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "an override needs --for (how long it lasts, e.g. 2h or 1d)")
	}
	dur, err := quota.ParseDuration(req.For)
	if err != nil {
		return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "--for %q: %v", req.For, err)
	}
	return d.balancer.Set(ctx, c.actor(), req.Pool, req.Min, req.Max, dur)
}
