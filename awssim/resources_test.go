package awssim_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
	"golang.org/x/crypto/ssh"
)

func TestKeyPairs(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ed, _ := ssh.NewPublicKey(edPub)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	cases := []struct {
		name, keyType string
		pub           ssh.PublicKey
		fingerprint   string
	}{
		// ssh-keygen -l prints SHA256 unpadded; EC2 reports the padded base64 digest.
		{"alice", "ed25519", ed, strings.TrimPrefix(ssh.FingerprintSHA256(ed), "SHA256:") + "="},
		// EC2 reports imported RSA keys by the RFC 4716 MD5 fingerprint.
		{"bob", "rsa", rs, ssh.FingerprintLegacyMD5(rs)},
	}
	for _, tc := range cases {
		t.Run("import "+tc.keyType, func(t *testing.T) {
			out, err := c.ImportKeyPair(e.ctx, &ec2.ImportKeyPairInput{
				KeyName: aws.String(tc.name), PublicKeyMaterial: ssh.MarshalAuthorizedKey(tc.pub),
				TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("uid"), Value: aws.String("1000")}}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if *out.KeyFingerprint != tc.fingerprint || !strings.HasPrefix(*out.KeyPairId, "key-") || *out.KeyName != tc.name {
				t.Fatalf("got %s %s, want fingerprint %s", *out.KeyFingerprint, *out.KeyPairId, tc.fingerprint)
			}
			d, err := c.DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{tc.name}, IncludePublicKey: aws.Bool(true)})
			if err != nil || len(d.KeyPairs) != 1 {
				t.Fatalf("%v %+v", err, d)
			}
			k := d.KeyPairs[0]
			if *k.KeyFingerprint != tc.fingerprint || string(k.KeyType) != tc.keyType || !k.CreateTime.Equal(awssim.DefaultStart) ||
				*k.PublicKey != strings.TrimSpace(string(ssh.MarshalAuthorizedKey(tc.pub))) || len(k.Tags) != 1 {
				t.Fatalf("describe %+v", k)
			}
		})
	}
	errCases := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate", func() error {
			_, err := c.ImportKeyPair(e.ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("alice"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(ed)})
			return err
		}, "InvalidKeyPair.Duplicate"},
		{"garbage key", func() error {
			_, err := c.ImportKeyPair(e.ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("x"), PublicKeyMaterial: []byte("ssh-rsa nope")})
			return err
		}, "InvalidKey.Format"},
		{"describe unknown", func() error {
			_, err := c.DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"carol"}})
			return err
		}, "InvalidKeyPair.NotFound"},
		{"describe unknown id", func() error {
			_, err := c.DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{"key-0000000000000dead"}})
			return err
		}, "InvalidKeyPair.NotFound"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code, 400) })
	}
	t.Run("filter key-name", func(t *testing.T) {
		d, err := c.DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{filter("key-name", "b*")}})
		if err != nil || len(d.KeyPairs) != 1 || *d.KeyPairs[0].KeyName != "bob" {
			t.Fatalf("%v %+v", err, d)
		}
	})
	t.Run("keys are per region", func(t *testing.T) {
		d, err := e.ec2("us-east-1").DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{})
		if err != nil || len(d.KeyPairs) != 0 {
			t.Fatalf("%v %+v", err, d)
		}
	})
	t.Run("launch with key", func(t *testing.T) {
		id := e.run(func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("alice") })[0]
		if got := aws.ToString(e.describe(id).KeyName); got != "alice" {
			t.Fatalf("key %q", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeleteKeyPair(e.ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("alice")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteKeyPair(e.ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("alice")}); err != nil {
			t.Fatalf("deleting an absent key should succeed: %v", err)
		}
		_, err := c.DescribeKeyPairs(e.ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"alice"}})
		wantCode(t, err, "InvalidKeyPair.NotFound", 400)
	})
}

func TestImagesAndRegions(t *testing.T) {
	e := newEnv(t)
	regions, err := e.west().DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{})
	if err != nil || len(regions.Regions) != len(awssim.DefaultRegions) {
		t.Fatalf("%v %+v", err, regions)
	}
	_, err = e.west().DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"mars-north-1"}})
	wantCode(t, err, "InvalidParameterValue", 400)
	perRegion := map[string]string{}
	for _, r := range regions.Regions {
		c := e.ec2(*r.RegionName)
		out, err := c.DescribeImages(e.ctx, &ec2.DescribeImagesInput{ImageIds: []string{awssim.FixedImageID}})
		if err != nil || len(out.Images) != 1 || !strings.Contains(*out.Images[0].Name, "jammy-22.04-amd64") {
			t.Fatalf("%s: fixed image: %v %+v", *r.RegionName, err, out)
		}
		noble, err := c.DescribeImages(e.ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "ubuntu/images/*noble*amd64*")}})
		if err != nil || len(noble.Images) != 1 {
			t.Fatalf("%s: noble %v %+v", *r.RegionName, err, noble)
		}
		perRegion[*noble.Images[0].ImageId] = *r.RegionName
	}
	if len(perRegion) != len(regions.Regions) {
		t.Fatalf("image ids should differ per region: %v", perRegion)
	}
	c := e.west()
	cases := []struct {
		name string
		in   *ec2.DescribeImagesInput
		want int
	}{
		{"all", &ec2.DescribeImagesInput{}, 8},
		{"owners amazon", &ec2.DescribeImagesInput{Owners: []string{"amazon"}}, 7},
		{"owner canonical", &ec2.DescribeImagesInput{Owners: []string{"099720109477"}}, 4},
		{"owner foreign", &ec2.DescribeImagesInput{Owners: []string{awssim.ForeignOwnerID}}, 1},
		{"owners self", &ec2.DescribeImagesInput{Owners: []string{"self"}}, 0},
		{"owners self and amazon", &ec2.DescribeImagesInput{Owners: []string{"self", "amazon"}}, 7},
		{"look-alike name without owners", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "ubuntu/images/*jammy*amd64*")}}, 2},
		{"look-alike name with owners", &ec2.DescribeImagesInput{Owners: []string{"amazon"}, Filters: []types.Filter{filter("name", "ubuntu/images/*jammy*amd64*")}}, 1},
		{"architecture", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("architecture", "arm64")}}, 3},
		{"image-id", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("image-id", awssim.FixedImageID)}}, 1},
		{"name wildcard ?", &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "debian-1?-amd64-*")}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DescribeImages(e.ctx, tc.in)
			if err != nil || len(out.Images) != tc.want {
				t.Fatalf("%v: got %d want %d", err, len(out.Images), tc.want)
			}
		})
	}
	t.Run("paginated", func(t *testing.T) {
		p := ec2.NewDescribeImagesPaginator(c, &ec2.DescribeImagesInput{MaxResults: aws.Int32(5)})
		n := 0
		for p.HasMorePages() {
			out, err := p.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.Images)
		}
		if n != 8 {
			t.Fatalf("%d images", n)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		_, err := c.DescribeImages(e.ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-00000000000000000"}})
		wantCode(t, err, "InvalidAMIID.NotFound", 400)
	})
	t.Run("zones", func(t *testing.T) {
		out, err := e.ec2("ap-northeast-1").DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{})
		if err != nil || len(out.AvailabilityZones) != 3 || *out.AvailabilityZones[1].ZoneName != "ap-northeast-1c" {
			t.Fatalf("%v %+v", err, out)
		}
	})
}

func TestSpotPriceHistory(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	e.advance(30 * time.Minute)
	now := e.sim.Now()
	in := &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: []types.InstanceType{"t3.micro"}, ProductDescriptions: []string{"Linux/UNIX"},
		StartTime: aws.Time(now.Add(-12 * time.Hour)), EndTime: aws.Time(now),
	}
	var got []types.SpotPrice
	p := ec2.NewDescribeSpotPriceHistoryPaginator(c, func() *ec2.DescribeSpotPriceHistoryInput { cp := *in; cp.MaxResults = aws.Int32(5); return &cp }())
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.SpotPriceHistory...)
	}
	// Windows start at 12:00, 16:00, 20:00 and 00:00 (the one in force at StartTime is
	// included), in three zones.
	if len(got) != 12 || pages != 3 {
		t.Fatalf("%d prices in %d pages", len(got), pages)
	}
	od, _ := awssim.OnDemandPrice("us-west-2", "t3.micro")
	for i, sp := range got {
		want, _ := awssim.SpotPrice("us-west-2", *sp.AvailabilityZone, "t3.micro", *sp.Timestamp)
		price := mustFloat(t, *sp.SpotPrice)
		if !near(price, want) || price >= od || price <= 0 || sp.ProductDescription != "Linux/UNIX" {
			t.Fatalf("entry %d: %+v (want %v)", i, sp, want)
		}
		if i > 0 && sp.Timestamp.After(*got[i-1].Timestamp) {
			t.Fatal("not newest first")
		}
		if sp.Timestamp.After(now) || sp.Timestamp.Before(now.Add(-12*time.Hour-awssim.SpotPricePeriod)) {
			t.Fatalf("timestamp %v out of range", sp.Timestamp)
		}
	}
	t.Run("filters", func(t *testing.T) {
		out, err := c.DescribeSpotPriceHistory(e.ctx, &ec2.DescribeSpotPriceHistoryInput{
			StartTime: aws.Time(now), EndTime: aws.Time(now),
			Filters: []types.Filter{filter("instance-type", "m5.*"), filter("availability-zone", "us-west-2a"), filter("product-description", "Linux/UNIX")},
		})
		if err != nil || len(out.SpotPriceHistory) != 5 {
			t.Fatalf("%v %d", err, len(out.SpotPriceHistory))
		}
	})
	t.Run("prices change over time", func(t *testing.T) {
		seen := map[float64]bool{}
		for h := 0; h < 48; h += 4 {
			p, _ := awssim.SpotPrice("us-west-2", "us-west-2a", "m5.large", awssim.DefaultStart.Add(time.Duration(h)*time.Hour))
			seen[p] = true
		}
		if len(seen) < 6 {
			t.Fatalf("only %d distinct prices", len(seen))
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		_, err := c.DescribeSpotPriceHistory(e.ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []types.InstanceType{"t9.mega"}})
		wantCode(t, err, "InvalidParameterValue", 400)
	})
}

func TestVolumes(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	a := e.run()[0]
	b := e.run(func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(20)}}}
	})[0]
	cases := []struct {
		name    string
		in      *ec2.DescribeVolumesInput
		wantIDs []string // instance ids the volumes attach to
	}{
		{"all", &ec2.DescribeVolumesInput{}, []string{a, b}},
		{"attachment.instance-id", &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", b)}}, []string{b}},
		{"size", &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("size", "8")}}, []string{a}},
		{"status in-use", &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("status", "in-use")}}, []string{a, b}},
	}
	var bVol string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DescribeVolumes(e.ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range out.Volumes {
				if len(v.Attachments) != 1 || v.State != types.VolumeStateInUse || v.VolumeType != types.VolumeTypeGp3 || !*v.Attachments[0].DeleteOnTermination {
					t.Fatalf("volume %+v", v)
				}
				got = append(got, *v.Attachments[0].InstanceId)
				if *v.Attachments[0].InstanceId == b {
					bVol = *v.VolumeId
				}
			}
			if !slices.Equal(got, tc.wantIDs) {
				t.Fatalf("got %v want %v", got, tc.wantIDs)
			}
		})
	}
	t.Run("volume-id and block device mapping agree", func(t *testing.T) {
		out, err := c.DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{bVol}})
		if err != nil || len(out.Volumes) != 1 || *out.Volumes[0].Size != 20 {
			t.Fatalf("%v %+v", err, out)
		}
		if got := *e.describe(b).BlockDeviceMappings[0].Ebs.VolumeId; got != bVol {
			t.Fatalf("bdm volume %s != %s", got, bVol)
		}
	})
	t.Run("deleted with instance", func(t *testing.T) {
		if _, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{b}}); err != nil {
			t.Fatal(err)
		}
		if out, _ := c.DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{bVol}}); len(out.Volumes) != 1 {
			t.Fatal("volume vanished while shutting down")
		}
		e.advance(30 * time.Second)
		_, err := c.DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{bVol}})
		wantCode(t, err, "InvalidVolume.NotFound", 400)
	})
	t.Run("paginated", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			e.run(count(4))
		}
		p := ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
		n := 0
		for p.HasMorePages() {
			out, err := p.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.Volumes)
		}
		if n != 13 {
			t.Fatalf("%d volumes", n)
		}
	})
}
