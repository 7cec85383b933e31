package broker

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
)

// TestKeypairIsTaggedOnImport: the keypair tollgate imports carries tollgate:owner, which
// is what later lets it be replaced.
func TestKeypairIsTaggedOnImport(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	h.launchIDs(api.LaunchRequest{})
	kp, ok, err := h.cloud.DescribeKeyPairTagged(h.ctx, region, "alice")
	if err != nil || !ok {
		t.Fatalf("got %v, %v; want alice's keypair", ok, err)
	}
	if got := kp.Tags[cloud.TagOwner]; got != "alice" {
		t.Errorf("got tag %s=%q, want alice", cloud.TagOwner, got)
	}
}

// TestKeypairOfOthersIsNeverReplaced is the review's finding #6: a keypair of the user's
// name that tollgate did not import for them is left alone and the launch refused.
func TestKeypairOfOthersIsNeverReplaced(t *testing.T) {
	tests := []struct {
		name string
		tags map[string]string
	}{
		{"untagged", nil},
		{"tagged for another user", map[string]string{cloud.TagOwner: "bob"}},
		{"other tags only", map[string]string{"team": "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			operatorKey := newPublicKey(t)
			pre, err := h.cloud.ImportKeyPairTagged(h.ctx, region, "alice", []byte(operatorKey), tt.tags)
			if err != nil {
				t.Fatal(err)
			}
			h.enrol("alice", "alice")
			_, err = h.c.Launch(h.ctx, api.LaunchRequest{})
			e := wantCode(t, err, api.CodeConflict)
			for _, want := range []string{`keypair named "alice" already exists in ` + region, "will not replace it"} {
				if !strings.Contains(e.Message, want) {
					t.Errorf("got %q, want it to contain %q", e.Message, want)
				}
			}
			if !strings.Contains(e.Hint, "admin") || !strings.Contains(e.Hint, pre.ID) {
				t.Errorf("got hint %q, want it to send the user to an admin and name the keypair", e.Hint)
			}
			kp, ok, err := h.cloud.DescribeKeyPairTagged(h.ctx, region, "alice")
			if err != nil || !ok || kp.ID != pre.ID || kp.Fingerprint != pre.Fingerprint {
				t.Errorf("got %+v (found %v, %v), want the operator's keypair %+v untouched", kp, ok, err, pre)
			}
			if n := len(h.cloudInstances()); n != 0 {
				t.Errorf("got %d instances, want none", n)
			}
		})
	}
}

// TestKeypairReplacedWhenOurs: a stale keypair tollgate imported for the user (tagged) is
// replaced by the user's current key, even when the database has no record of it.
func TestKeypairReplacedWhenOurs(t *testing.T) {
	h := newHarness(t)
	pre, err := h.cloud.ImportKeyPairTagged(h.ctx, region, "alice", []byte(newPublicKey(t)), map[string]string{cloud.TagOwner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	h.enrol("alice", "alice")
	h.launchIDs(api.LaunchRequest{})
	kp, ok, err := h.cloud.DescribeKeyPairTagged(h.ctx, region, "alice")
	if err != nil || !ok {
		t.Fatalf("got %v, %v", ok, err)
	}
	if kp.Fingerprint == pre.Fingerprint || kp.ID == pre.ID || kp.Tags[cloud.TagOwner] != "alice" {
		t.Errorf("got %+v, want alice's new key, tagged", kp)
	}
}
