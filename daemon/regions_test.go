package daemon

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/regions"
)

// TestRegionsThroughTheSocket declares a regional service and drives it as an admin:
// setup, a run that fails (the instance still ends stopped), runs, check, and clear
// refusing the home region.
func TestRegionsThroughTheSocket(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.Regions.Services = []regions.Service{{Name: "servicemon", HomeRegion: region, Image: "NAVO",
			Commands: []string{"./aws.sh"}, Timeout: 10 * time.Minute, Rules: []regions.Rule{{FromPort: 22, CIDR: "203.0.113.0/24"}}}}
	})
	e.sim.AddImage(region, "NAVO")
	e.users.as("alice")
	if _, err := e.c.RegionsCheck(e.ctx, "servicemon"); tollgate.ErrorCode(err) != tollgate.CodeForbidden {
		t.Errorf("a non-admin checked the service: %v", err)
	}
	e.users.as("ops")
	res, err := e.c.RegionsSetup(e.ctx, api.PathAdminRegionsSetup, api.RegionsRequest{Service: "servicemon"})
	if err != nil || len(res) != 1 || res[0].Error != "" || res[0].InstanceID == "" {
		t.Fatalf("setup = %+v, %v", res, err)
	}
	e.sim.SetCommandOutcome(res[0].InstanceID, awssim.CommandOutcome{ExitCode: 1, Duration: time.Minute, Stderr: "no network"})
	runs, err := e.c.RegionsRun(e.ctx, api.RegionsRequest{Service: "servicemon", Wait: true})
	if err != nil || len(runs) != 1 || runs[0].Status != "failed" || runs[0].ExitCode != 1 || runs[0].Stderr != "no network" {
		t.Fatalf("run = %+v, %v", runs, err)
	}
	listed, err := e.c.RegionsRuns(e.ctx, "servicemon", 0)
	if err != nil || len(listed) != 1 || listed[0].ID != runs[0].ID {
		t.Errorf("runs = %+v, %v", listed, err)
	}
	e.sim.Advance(time.Minute)
	cs, err := e.c.RegionsCheck(e.ctx, "servicemon")
	if err != nil || len(cs) != 1 || cs[0].InstanceState != "stopped" || cs[0].LastRun == nil || len(cs[0].Drift) != 0 {
		t.Errorf("check = %+v, %v; want the instance stopped after the failed run, no drift", cs, err)
	}
	if err := e.c.RegionsClear(e.ctx, "servicemon", region); tollgate.ErrorCode(err) != tollgate.CodeInvalidRequest {
		t.Errorf("clear of the home region: %v, want invalid_request", err)
	}
}
