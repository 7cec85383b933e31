package iamusers_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/iamsim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/iamusers"
)

// TestThroughAWSSim runs issue, rotation and revocation through the whole simulator,
// which routes requests to IAM and STS by their SigV4 scope, with its manual clock.
func TestThroughAWSSim(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDAEMON")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "daemon-secret")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	// A handle on the IAM state: mount our own instance on the simulator's clock.
	iam := iamsim.New(sim.Now)
	sim.Mount("iam", iam)
	sim.Mount("sts", iam)
	iam.SetPropagationDelay(4 * time.Second)

	cl, err := cloud.New(ctx, cloud.Config{Regions: []string{"us-west-2"}, EndpointURL: url, MaxAttempts: 2, MaxBackoff: time.Millisecond, Now: sim.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.OpenRun(t, dir)
	svc, err := iamusers.New(iamusers.Options{
		DB: d, Cloud: cl, Region: "us-west-2", Now: sim.Now, Logger: slog.New(slog.DiscardHandler),
		Config: config.IAM{PropagationTimeout: time.Minute, PermissionsBoundary: boundaryARN},
		Sleep:  func(ctx context.Context, d time.Duration) error { sim.Advance(d); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	start := sim.Now()
	first, err := svc.Issue(ctx, "lee", false)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if waited := sim.Now().Sub(start); waited < 4*time.Second {
		t.Errorf("issued after %v on the simulator's clock, want at least the 4s propagation", waited)
	}
	second, err := svc.Issue(ctx, "lee", true)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	u, ok := iam.LookupUser("tollgate-lee")
	if !ok || len(u.Keys) != 1 || u.Keys[0].ID != second.AccessKeyID || u.Keys[0].ID == first.AccessKeyID {
		t.Fatalf("after rotation IAM holds %+v, want only %s", u, second.AccessKeyID)
	}
	if u.Boundary != boundaryARN {
		t.Errorf("boundary through awssim = %q, want %q", u.Boundary, boundaryARN)
	}
	who, err := cl.CallerIdentityOf(ctx, second.AccessKeyID, second.SecretAccessKey)
	if err != nil || who.ARN != u.ARN {
		t.Errorf("STS through awssim: %+v, %v; want %s", who, err, u.ARN)
	}
	if res, err := svc.RevokeAll(ctx); err != nil || len(res.Revoked) != 1 || len(res.Failures) != 0 {
		t.Errorf("RevokeAll = %+v, %v; want [tollgate-lee] and no failures", res, err)
	}
	if left := iam.Users("/tollgate/"); len(left) != 0 {
		t.Errorf("users left: %v", left)
	}
}
