package cloud_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
	"golang.org/x/crypto/ssh"
)

// testPublicKey returns a fresh OpenSSH public key line.
func testPublicKey(t *testing.T) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("ssh public key: %v", err)
	}
	return ssh.MarshalAuthorizedKey(sp)
}

func TestKeyPairs(t *testing.T) {
	f := setup(t)
	if _, found, err := f.c.DescribeKeyPair(f.ctx, west, "alice"); err != nil || found {
		t.Fatalf("DescribeKeyPair before import = found %v, err %v; want false, nil", found, err)
	}
	kp, err := f.c.ImportKeyPair(f.ctx, west, "alice", testPublicKey(t))
	if err != nil {
		t.Fatalf("ImportKeyPair: %v", err)
	}
	if kp.Name != "alice" || kp.ID == "" || kp.Fingerprint == "" {
		t.Errorf("ImportKeyPair = %+v, want name alice with id and fingerprint", kp)
	}
	got, found, err := f.c.DescribeKeyPair(f.ctx, west, "alice")
	if err != nil || !found {
		t.Fatalf("DescribeKeyPair after import = found %v, err %v; want true, nil", found, err)
	}
	if got != kp {
		t.Errorf("DescribeKeyPair = %+v, want %+v", got, kp)
	}
	if _, err := f.c.ImportKeyPair(f.ctx, west, "alice", testPublicKey(t)); cloud.Code(err) != "InvalidKeyPair.Duplicate" {
		t.Errorf("second ImportKeyPair = %v, want InvalidKeyPair.Duplicate", err)
	}
	if _, found, _ := f.c.DescribeKeyPair(f.ctx, "us-east-1", "alice"); found {
		t.Errorf("key pair imported in %s is visible in us-east-1", west)
	}
	for i := range 2 { // the second delete finds nothing and must still succeed
		if err := f.c.DeleteKeyPair(f.ctx, west, "alice"); err != nil {
			t.Fatalf("DeleteKeyPair #%d: %v", i+1, err)
		}
	}
	if _, found, err := f.c.DescribeKeyPair(f.ctx, west, "alice"); err != nil || found {
		t.Errorf("DescribeKeyPair after delete = found %v, err %v; want false, nil", found, err)
	}
	if _, err := f.c.ImportKeyPair(f.ctx, west, "bad", []byte("not a key")); err == nil {
		t.Errorf("ImportKeyPair of garbage succeeded, want an error")
	}
}

func TestDescribeImages(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name     string
		ids      []string
		patterns []string
		wantN    int
		wantID   string // must be among the results when set
		wantRoot string // of wantID
	}{
		{"by id", []string{awssim.FixedImageID}, nil, 1, awssim.FixedImageID, "/dev/sda1"},
		{"unknown id is absent", []string{"ami-0000000000000dead"}, nil, 0, "", ""},
		{"by pattern", nil, []string{"ubuntu/images/*jammy*"}, 2, awssim.FixedImageID, "/dev/sda1"},
		{"two patterns", nil, []string{"ubuntu/images/*", "al2023-ami-*-x86_64"}, 5, "", ""},
		{"id and pattern overlap once", []string{awssim.FixedImageID}, []string{"ubuntu/images/*jammy*"}, 2, awssim.FixedImageID, "/dev/sda1"},
		{"id or pattern", []string{awssim.FixedImageID}, []string{"debian-*"}, 2, awssim.FixedImageID, "/dev/sda1"},
		{"nothing asked", nil, nil, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.c.DescribeImages(f.ctx, west, tt.ids, tt.patterns)
			if err != nil {
				t.Fatalf("DescribeImages: %v", err)
			}
			if len(got) != tt.wantN {
				t.Fatalf("DescribeImages returned %d images (%+v), want %d", len(got), got, tt.wantN)
			}
			for _, im := range got {
				if im.Region != west || im.Name == "" || im.CreatedAt.IsZero() {
					t.Errorf("image %+v: want region, name and creation date", im)
				}
			}
			if tt.wantID == "" {
				return
			}
			i := slices.IndexFunc(got, func(im cloud.Image) bool { return im.ID == tt.wantID })
			if i < 0 {
				t.Fatalf("%s not among %+v", tt.wantID, got)
			}
			if got[i].RootDeviceName != tt.wantRoot {
				t.Errorf("root device = %q, want %q", got[i].RootDeviceName, tt.wantRoot)
			}
		})
	}
}

func TestDescribeSpotPriceHistory(t *testing.T) {
	f := setup(t)
	end := f.sim.Now()
	start := end.Add(-6 * time.Hour)
	got, err := f.c.DescribeSpotPriceHistory(f.ctx, west, []string{"t3.micro", "m5.large"}, start, end)
	if err != nil {
		t.Fatalf("DescribeSpotPriceHistory: %v", err)
	}
	if len(got) == 0 {
		t.Fatalf("no spot prices")
	}
	types := map[string]bool{}
	for _, p := range got {
		types[p.Type] = true
		if p.USDPerHour <= 0 || p.AvailabilityZone == "" || p.At.After(end) {
			t.Errorf("spot price %+v: want a positive price, a zone, and a time not after %v", p, end)
		}
	}
	if !types["t3.micro"] || !types["m5.large"] || len(types) != 2 {
		t.Errorf("types in the history = %v, want exactly t3.micro and m5.large", types)
	}
	// A zero end means "now" by the injected clock.
	if _, err := f.c.DescribeSpotPriceHistory(f.ctx, west, []string{"t3.micro"}, start, time.Time{}); err != nil {
		t.Errorf("DescribeSpotPriceHistory with zero end: %v", err)
	}
}

func TestDescribeVolumes(t *testing.T) {
	f := setup(t)
	a := f.run(t, cloud.RunInput{ClientToken: "tok-va"})
	b := f.run(t, cloud.RunInput{ClientToken: "tok-vb", Count: 2})
	tests := []struct {
		name  string
		ids   []string
		wantN int
	}{
		{"one instance", ids(a), 1},
		{"two instances", ids(b), 2},
		{"all volumes", nil, 3},
		{"unknown instance", []string{"i-0123456789abcdef0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.c.DescribeVolumes(f.ctx, west, tt.ids)
			if err != nil {
				t.Fatalf("DescribeVolumes: %v", err)
			}
			if len(got) != tt.wantN {
				t.Fatalf("DescribeVolumes returned %d, want %d", len(got), tt.wantN)
			}
			for _, v := range got {
				if v.SizeGB != 8 || v.Type != "gp3" || v.InstanceID == "" || v.State != "in-use" || v.Region != west {
					t.Errorf("volume %+v: want an 8 GB gp3 root in use", v)
				}
				if tt.ids != nil && !slices.Contains(tt.ids, v.InstanceID) {
					t.Errorf("volume %s belongs to %s, not one of %v", v.ID, v.InstanceID, tt.ids)
				}
			}
		})
	}
}

func TestRegions(t *testing.T) {
	f := setup(t, func(c *cloud.Config) { c.Regions = []string{"eu-west-1", "us-east-1"} })
	if got, want := f.c.Regions(), []string{"eu-west-1", "us-east-1"}; !slices.Equal(got, want) {
		t.Errorf("Regions() = %v, want %v", got, want)
	}
	if got, want := f.c.AWSConfig().Region, "eu-west-1"; got != want {
		t.Errorf("AWSConfig().Region = %q, want %q", got, want)
	}
	// Every region works through its own client.
	for _, r := range f.c.Regions() {
		f.run(t, cloud.RunInput{Region: r})
		got, err := f.c.DescribeInstances(f.ctx, r, cloud.Filter{})
		if err != nil || len(got) != 1 || got[0].Region != r {
			t.Errorf("DescribeInstances(%s) = %+v, %v; want one instance in %s", r, got, err, r)
		}
	}
}
