package daemon

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/balancer"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
)

// TestBalancerThroughTheSocket declares a pool in the configuration, lets the daemon's
// balancer run, and steers it as an admin over the socket.
func TestBalancerThroughTheSocket(t *testing.T) {
	slave := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer slave.Close()
	balancerHook = func(o *balancer.Options) {
		o.ProbeAddr = func(string, int) string { return slave.Listener.Addr().String() }
	}
	defer func() { balancerHook = nil }()
	load := filepath.Join(t.TempDir(), "load")
	if err := os.WriteFile(load, []byte("2.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *config.Config) {
		c.Balancer.Pools = []balancer.Pool{{Name: "gbrowse", LoadSource: "file:" + load, Region: region,
			InstanceTypes: []string{"m5.large"}, Image: awssim.FixedImageID, Master: "10.1.2.3"}}
	})
	e.d.Balancer.Tick(e.ctx)
	e.users.as("alice")
	if _, err := e.c.Pools(e.ctx); tollgate.ErrorCode(err) != tollgate.CodeForbidden {
		t.Errorf("a non-admin listed the pools: %v", err)
	}
	e.users.as("ops")
	ps, err := e.c.Pools(e.ctx)
	if err != nil || len(ps) != 1 || ps[0].Name != "gbrowse" {
		t.Fatalf("pools = %+v, %v", ps, err)
	}
	if n := ps[0].Counts["booting"] + ps[0].Counts["ready"]; n != 2 {
		t.Errorf("the pool has %d slaves at load 2.5, want the table's min 2 (%+v)", n, ps[0].Counts)
	}
	rows, err := e.d.DB.ListInstances(e.ctx, nil, db.InstanceFilter{Purposes: []string{"balancer"}, LiveOnly: true})
	if err != nil || len(rows) != 2 || rows[0].Owner != balancer.Owner("gbrowse") {
		t.Errorf("recorded balancer instances = %+v, %v", rows, err)
	}
	st, err := e.c.PoolSet(e.ctx, api.PoolSetRequest{Pool: "gbrowse", Min: 1, Max: 1, For: "2h"})
	if err != nil || st.Override == nil || st.Override.Max != 1 {
		t.Fatalf("set = %+v, %v", st.Override, err)
	}
	if _, err := e.c.PoolSet(e.ctx, api.PoolSetRequest{Pool: "gbrowse", Min: 1, Max: 1}); tollgate.ErrorCode(err) != tollgate.CodeInvalidRequest {
		t.Errorf("an override without --for: %v, want invalid_request", err)
	}
	if st, err := e.c.PoolAction(e.ctx, api.PathAdminBalancerPause, "gbrowse"); err != nil || st.State != "paused" {
		t.Errorf("pause = %q, %v", st.State, err)
	}
	if _, err := e.c.PoolStatus(e.ctx, "nope"); tollgate.ErrorCode(err) != tollgate.CodeNotFound {
		t.Errorf("status of an unknown pool: %v, want not_found", err)
	}
	es, err := e.c.Audit(e.ctx, api.AuditQuery{Action: balancer.ActionPause})
	if err != nil || len(es) != 1 || es[0].Actor != "ops" {
		t.Errorf("pause audit = %+v, %v", es, err)
	}
}
