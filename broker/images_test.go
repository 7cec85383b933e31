package broker

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
)

// TestLookAlikeImagesAreRefused is the review's finding #5: a public image from a
// foreign account whose name matches a policy pattern ("ubuntu/images/*") is not
// launched, by name or by id, unless policy image_owners lists that account.
func TestLookAlikeImagesAreRefused(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	foreign, err := h.cloud.DescribeImagesOwned(h.ctx, region, []string{awssim.ForeignOwnerID}, nil, []string{awssim.ForeignImageName})
	if err != nil || len(foreign) != 1 {
		t.Fatalf("got %v, %v; want the look-alike image", foreign, err)
	}
	tests := []struct {
		name  string
		image string
	}{
		{"by name", awssim.ForeignImageName},
		{"by id", foreign[0].ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.Launch(h.ctx, api.LaunchRequest{Image: tt.image})
			e := wantCode(t, err, api.CodeInvalidRequest)
			if !strings.Contains(e.Message, "among the images of self, amazon (image_owners)") {
				t.Errorf("got %q, want the owners named", e.Message)
			}
		})
	}
	if n := len(h.cloudInstances()); n != 0 {
		t.Errorf("got %d instances, want none", n)
	}
	t.Run("official image by name still works", func(t *testing.T) {
		if _, err := h.c.Launch(h.ctx, api.LaunchRequest{Image: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240101"}); err != nil {
			t.Errorf("got %v, want launched", err)
		}
	})
	t.Run("malformed ami id", func(t *testing.T) {
		_, err := h.c.Launch(h.ctx, api.LaunchRequest{Image: "ami-\x1b[31m"})
		e := wantCode(t, err, api.CodeInvalidRequest)
		if strings.Contains(e.Message, "\x1b") {
			t.Errorf("got %q, want the input escaped", e.Message)
		}
	})
}

func TestImageOwnersFromPolicy(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Policy.Default.ImageOwners = []string{"amazon", awssim.ForeignOwnerID}
	})
	h.enrol("alice", "alice")
	res, err := h.c.Launch(h.ctx, api.LaunchRequest{Image: awssim.ForeignImageName})
	if err != nil {
		t.Fatalf("got %v, want the listed owner's image launched", err)
	}
	if got := h.cloudInstances()[res.Instances[0].ID].ImageID; got == awssim.FixedImageID || got == "" {
		t.Errorf("got image %q, want the foreign account's", got)
	}
}

// TestLaunchIsIMDSv2Only is the review's finding #14: instances accept only session
// (IMDSv2) metadata requests, so an SSRF cannot read an instance role's credentials.
func TestLaunchIsIMDSv2Only(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	ids := h.launchIDs(api.LaunchRequest{})
	in := h.cloudInstances()[ids[0]]
	if in.MetadataHTTPTokens != "required" || in.MetadataHTTPEndpoint != "enabled" || in.MetadataHopLimit != 1 {
		t.Errorf("got tokens %q endpoint %q hops %d, want required, enabled, 1",
			in.MetadataHTTPTokens, in.MetadataHTTPEndpoint, in.MetadataHopLimit)
	}
}
