package cloud_test

import (
	"testing"

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
