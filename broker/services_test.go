package broker

import (
	"context"
	"testing"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/iamusers"
)

func TestRealServicesSatisfyInterfaces(t *testing.T) {
	if _, ok := any((*accounting.Service)(nil)).(Accounting); !ok {
		t.Error("*accounting.Service does not satisfy broker.Accounting")
	}
	if _, ok := any((*accounting.Prices)(nil)).(Prices); !ok {
		t.Error("*accounting.Prices does not satisfy broker.Prices")
	}
	if _, ok := any((*iamusers.Service)(nil)).(IAM); !ok {
		t.Error("*iamusers.Service does not satisfy broker.IAM")
	}
}

// TestProductionWiring starts the daemon as cmd does: real accounting, IAM identities and
// price table built by New from the configuration.
func TestProductionWiring(t *testing.T) {
	h := newHarness(t)
	h.shutdown()
	d, err := New(h.ctx, Options{Config: h.cfg, Cloud: h.cloud, Users: h.users, Now: h.sim.Now, AllowRoot: true,
		Hooks: &Hooks{PeerUID: h.users.peerUID}})
	if err != nil {
		t.Fatalf("New with real services: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	c := api.NewClient(d.Socket())
	h.users.as("ops")
	if _, err := c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	h.users.as("alice")
	if _, err := c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Launch(h.ctx, api.LaunchRequest{})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	q, err := c.Quota(h.ctx)
	if err != nil || q.Usage.Instances != 1 {
		t.Errorf("got %+v, %v; want 1 instance held", q.Usage, err)
	}
	if _, err := c.Usage(h.ctx); err != nil {
		t.Errorf("Usage: %v", err)
	}
	if _, err := c.Terminate(h.ctx, []string{res.Instances[0].ID}); err != nil {
		t.Errorf("Terminate: %v", err)
	}
}
