package cloud_test

import (
	"testing"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

// TestKeyPairTagged: tags given at import travel as TagSpecifications (resource type
// key-pair) and come back from DescribeKeyPairs, through the real SDK.
func TestKeyPairTagged(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name string
		tags map[string]string
	}{
		{"tagged", map[string]string{cloud.TagOwner: "alice", "team": "ops"}},
		{"untagged", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := f.c.ImportKeyPairTagged(f.ctx, west, tt.name, testPublicKey(t), tt.tags)
			if err != nil {
				t.Fatalf("ImportKeyPairTagged: %v", err)
			}
			got, found, err := f.c.DescribeKeyPairTagged(f.ctx, west, tt.name)
			if err != nil || !found {
				t.Fatalf("got found %v, err %v; want the keypair", found, err)
			}
			if got.KeyPair != kp {
				t.Errorf("got %+v, want %+v", got.KeyPair, kp)
			}
			if len(got.Tags) != len(tt.tags) {
				t.Errorf("got tags %v, want %v", got.Tags, tt.tags)
			}
			for k, v := range tt.tags {
				if got.Tags[k] != v {
					t.Errorf("tag %s: got %q, want %q", k, got.Tags[k], v)
				}
			}
		})
	}
	if _, found, err := f.c.DescribeKeyPairTagged(f.ctx, west, "nobody"); err != nil || found {
		t.Errorf("got found %v, err %v; want false, nil", found, err)
	}
}

// TestDescribeImagesOwners: image lookups see only the owners asked for, the account's
// own and Amazon's by default, so a look-alike public image is never found by name.
func TestDescribeImagesOwners(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name   string
		owners []string
		want   int
	}{
		{"default owners", nil, 0},
		{"amazon", []string{"amazon"}, 0},
		{"the foreign account", []string{awssim.ForeignOwnerID}, 1},
		{"amazon and the foreign account", []string{"amazon", awssim.ForeignOwnerID}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.c.DescribeImagesOwned(f.ctx, west, tt.owners, nil, []string{awssim.ForeignImageName})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d images (%+v), want %d", len(got), got, tt.want)
			}
		})
	}
	t.Run("by id too", func(t *testing.T) {
		foreign, err := f.c.DescribeImagesOwned(f.ctx, west, []string{awssim.ForeignOwnerID}, nil, []string{awssim.ForeignImageName})
		if err != nil || len(foreign) != 1 {
			t.Fatalf("got %v, %v", foreign, err)
		}
		got, err := f.c.DescribeImages(f.ctx, west, []string{foreign[0].ID}, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("got %+v, %v; want the foreign id absent under the default owners", got, err)
		}
	})
}
