package broker

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/broker/api"
)

// Regions is what the broker needs of the regional services; *regions.Manager
// satisfies it.
type Regions interface {
	Setup(ctx context.Context, by tollgate.Actor, name string, regions []string) ([]tollgate.RegionSetup, error)
	Update(ctx context.Context, by tollgate.Actor, name string) ([]tollgate.RegionSetup, error)
	Clear(ctx context.Context, by tollgate.Actor, name, region string) error
	RunNow(ctx context.Context, by tollgate.Actor, name string, regions []string) ([]tollgate.ServiceRun, error)
	Check(ctx context.Context, name string) ([]tollgate.RegionCheck, error)
	Runs(ctx context.Context, name string, limit int) ([]tollgate.ServiceRun, error)
}

// regionsWriteTimeout bounds a setup, update or run request: copies take minutes and a
// job may run for its timeout. The work itself does not depend on the request: a client
// that goes away does not stop a setup half-way or leave an instance running.
const regionsWriteTimeout = 3 * time.Hour

func veryLongWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(regionsWriteTimeout))
		next.ServeHTTP(w, r)
	})
}

var noRegions = tollgate.Errorf(tollgate.CodeNotFound, "this daemon runs no regional services").
	WithHint("declare them under [[regions.service]] in the configuration")

func (d *Daemon) serviceParam(r *http.Request) (string, error) {
	if d.regions == nil {
		return "", noRegions
	}
	name := r.URL.Query().Get("service")
	if name == "" {
		return "", tollgate.Errorf(tollgate.CodeInvalidRequest, "name the service: ?service=NAME")
	}
	return name, nil
}

func (d *Daemon) handleRegionsCheck(ctx context.Context, c *caller, r *http.Request) (any, error) {
	name, err := d.serviceParam(r)
	if err != nil {
		return nil, err
	}
	cs, err := d.regions.Check(ctx, name)
	return api.RegionCheckList{Regions: cs}, err
}

func (d *Daemon) handleRegionsRuns(ctx context.Context, c *caller, r *http.Request) (any, error) {
	name, err := d.serviceParam(r)
	if err != nil {
		return nil, err
	}
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10000 {
			return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "limit %q is not a number from 1 to 10000", s)
		}
	}
	runs, err := d.regions.Runs(ctx, name, limit)
	if runs == nil {
		runs = []tollgate.ServiceRun{}
	}
	return api.ServiceRunList{Runs: runs}, err
}

// regionsRequest decodes a RegionsRequest, auditing a malformed one.
func (d *Daemon) regionsRequest(ctx context.Context, c *caller, r *http.Request, action string) (api.RegionsRequest, error) {
	var req api.RegionsRequest
	if err := decodeBody(r, &req, maxBody); err != nil {
		d.audit(ctx, nil, c, action, "", audit.Refused, err.Error(), nil)
		return req, err
	}
	if d.regions == nil {
		return req, noRegions
	}
	return req, nil
}

func (d *Daemon) handleRegionsSetup(ctx context.Context, c *caller, r *http.Request) (any, error) {
	req, err := d.regionsRequest(ctx, c, r, "regions.setup")
	if err != nil {
		return nil, err
	}
	res, err := d.regions.Setup(context.WithoutCancel(ctx), c.actor(), req.Service, req.Regions)
	return api.RegionSetupList{Regions: res}, err
}

func (d *Daemon) handleRegionsUpdate(ctx context.Context, c *caller, r *http.Request) (any, error) {
	req, err := d.regionsRequest(ctx, c, r, "regions.update")
	if err != nil {
		return nil, err
	}
	res, err := d.regions.Update(context.WithoutCancel(ctx), c.actor(), req.Service)
	return api.RegionSetupList{Regions: res}, err
}

func (d *Daemon) handleRegionsClear(ctx context.Context, c *caller, r *http.Request) (any, error) {
	req, err := d.regionsRequest(ctx, c, r, "regions.clear")
	if err != nil {
		return nil, err
	}
	if len(req.Regions) != 1 {
		return nil, tollgate.Errorf(tollgate.CodeInvalidRequest, "clear takes exactly one region, got %d", len(req.Regions))
	}
	return api.Empty{}, d.regions.Clear(context.WithoutCancel(ctx), c.actor(), req.Service, req.Regions[0])
}

func (d *Daemon) handleRegionsRun(ctx context.Context, c *caller, r *http.Request) (any, error) {
	req, err := d.regionsRequest(ctx, c, r, "regions.run")
	if err != nil {
		return nil, err
	}
	if !req.Wait {
		// Checked now, run in the background: the runs are recorded (and each stops its
		// instance) whatever becomes of this connection.
		if _, err := d.regions.Check(ctx, req.Service); err != nil {
			return nil, err
		}
		go func() {
			if _, err := d.regions.RunNow(context.WithoutCancel(ctx), c.actor(), req.Service, req.Regions); err != nil {
				d.log.Warn("regions run", "service", req.Service, logErr, err)
			}
		}()
		return api.ServiceRunList{Runs: []tollgate.ServiceRun{}}, nil
	}
	runs, err := d.regions.RunNow(context.WithoutCancel(ctx), c.actor(), req.Service, req.Regions)
	return api.ServiceRunList{Runs: runs}, err
}
