package cloud_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

// simInstance returns awssim's ground truth for id.
func simInstance(t *testing.T, sim *awssim.Sim, id string) awssim.Instance {
	t.Helper()
	for _, in := range sim.Instances("") {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("awssim has no instance %s", id)
	return awssim.Instance{}
}

func TestRunInstancesSendsEverything(t *testing.T) {
	f := setup(t)
	pub := testPublicKey(t)
	if _, err := f.c.ImportKeyPair(f.ctx, west, "alice", pub); err != nil {
		t.Fatalf("ImportKeyPair: %v", err)
	}
	tags := map[string]string{
		cloud.TagOwner: "alice", cloud.TagUID: "1001", cloud.TagRequest: "req-1",
		cloud.TagPurpose: "user", cloud.TagName: "box",
	}
	userData := []byte("#!/bin/sh\necho hello\n")
	f.sim.AddInstanceProfile("tollgate-worker")
	insts := f.run(t, cloud.RunInput{
		ClientToken:     "tok-everything",
		Count:           2,
		KeyName:         "alice",
		SecurityGroups:  []string{"sg-0aaaabbbbccccdddd"},
		Subnet:          "subnet-0123456789abcdef0",
		InstanceProfile: "tollgate-worker",
		UserData:        userData,
		Spot:            true,
		SpotMaxPrice:    "5.0",
		VolumeSizeGB:    20,
		VolumeType:      "gp2",
		Tags:            tags,
		Owner:           "alice",
	})
	if got, want := len(insts), 2; got != want {
		t.Fatalf("launched %d instances, want %d", got, want)
	}
	for _, in := range insts {
		t.Run(in.ID, func(t *testing.T) {
			checks := []struct {
				name      string
				got, want any
			}{
				{"region", in.Region, west},
				{"state", in.State, "pending"},
				{"type", in.Type, "t3.micro"},
				{"image", in.ImageID, awssim.FixedImageID},
				{"key", in.KeyName, "alice"},
				{"client token", in.ClientToken, "tok-everything"},
				{"spot", in.Spot, true},
				{"launch time", in.LaunchTime, f.sim.Now().Truncate(time.Second)},
				{"tags", fmt.Sprint(in.Tags), fmt.Sprint(tags)},
				{"volumes", len(in.Volumes), 1}, // the root was resized, not a second volume added
			}
			for _, c := range checks {
				if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if in.SpotRequestID == "" || in.AvailabilityZone == "" || in.PrivateIP == "" {
				t.Errorf("spot request %q, zone %q, private ip %q: want all set", in.SpotRequestID, in.AvailabilityZone, in.PrivateIP)
			}
			truth := simInstance(t, f.sim, in.ID)
			if got, want := truth.UserData, base64.StdEncoding.EncodeToString(userData); got != want {
				t.Errorf("user data on the wire = %q, want %q", got, want)
			}
			if got, want := truth.IamInstanceProfileArn, "arn:aws:iam::"+awssim.AccountID+":instance-profile/tollgate-worker"; got != want {
				t.Errorf("instance profile = %q, want %q", got, want)
			}
			if got, want := fmt.Sprint(truth.SecurityGroupIDs), "[sg-0aaaabbbbccccdddd]"; got != want {
				t.Errorf("security groups = %s, want %s", got, want)
			}
			if got, want := truth.SubnetID, "subnet-0123456789abcdef0"; got != want {
				t.Errorf("subnet = %q, want %q", got, want)
			}
		})
	}

	// The root volume: resized, retyped and tagged at creation like the instance.
	vols, err := f.c.DescribeVolumes(f.ctx, west, ids(insts))
	if err != nil {
		t.Fatalf("DescribeVolumes: %v", err)
	}
	if got, want := len(vols), 2; got != want {
		t.Fatalf("%d volumes, want %d (one root per instance)", got, want)
	}
	for _, v := range vols {
		if v.SizeGB != 20 || v.Type != "gp2" || !slices.Contains(ids(insts), v.InstanceID) {
			t.Errorf("volume %+v: want 20 GB gp2 attached to one of %v", v, ids(insts))
		}
	}
	raw := ec2.NewFromConfig(f.c.AWSConfig(), func(o *ec2.Options) { o.Region = west })
	out, err := raw.DescribeVolumes(f.ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vols[0].ID}})
	if err != nil {
		t.Fatalf("raw DescribeVolumes: %v", err)
	}
	gotTags := map[string]string{}
	for _, tg := range out.Volumes[0].Tags {
		gotTags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if fmt.Sprint(gotTags) != fmt.Sprint(tags) {
		t.Errorf("volume tags = %v, want %v", gotTags, tags)
	}
}

func TestRunInstancesProfileARN(t *testing.T) {
	f := setup(t)
	arn := f.sim.AddInstanceProfile("by-arn")
	insts := f.run(t, cloud.RunInput{InstanceProfile: arn})
	if got := simInstance(t, f.sim, insts[0].ID).IamInstanceProfileArn; got != arn {
		t.Errorf("instance profile = %q, want %q", got, arn)
	}
	if insts[0].Spot {
		t.Errorf("on-demand launch reported Spot = true")
	}
}

func TestRunInstancesIdempotent(t *testing.T) {
	f := setup(t)
	in := cloud.RunInput{ClientToken: "tok-same", Count: 3, Tags: map[string]string{cloud.TagOwner: "bob"}}
	first := f.run(t, in)
	second := f.run(t, in)
	if got, want := fmt.Sprint(ids(second)), fmt.Sprint(ids(first)); got != want {
		t.Errorf("second launch with the same token returned %s, want %s", got, want)
	}
	if got, want := len(f.sim.Instances(west)), 3; got != want {
		t.Errorf("awssim holds %d instances, want %d", got, want)
	}
}

// TestRunInstancesLostResponses makes half the RunInstances responses vanish after the
// launch happened: the SDK's retries resend the same ClientToken, so the launch happens
// once.
func TestRunInstancesLostResponses(t *testing.T) {
	f := setup(t)
	f.sim.SetFaults(awssim.Faults{Seed: 7, FailAfterApply: map[string]float64{"RunInstances": 0.5}})
	var launched []string
	for i := range 6 {
		insts := f.run(t, cloud.RunInput{ClientToken: fmt.Sprintf("tok-lost-%d", i), Count: 2})
		launched = append(launched, ids(insts)...)
	}
	if got := f.tr.count(is5xx); got == 0 {
		t.Fatalf("no 5xx response seen; the fault knob did not fire and the test proves nothing")
	}
	if got, want := len(f.sim.Instances(west)), 12; got != want {
		t.Errorf("awssim holds %d instances after %d lost responses, want %d", got, f.tr.count(is5xx), want)
	}
	if got, want := len(launched), 12; got != want {
		t.Errorf("RunInstances returned %d instances, want %d", got, want)
	}
}

func TestRunInstancesGeneratesToken(t *testing.T) {
	f := setup(t)
	insts := f.run(t, cloud.RunInput{})
	if insts[0].ClientToken == "" {
		t.Errorf("ClientToken is empty; want a generated token")
	}
}

func TestRunInstancesCancelled(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.c.RunInstances(ctx, cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunInstances with a cancelled context = %v, want context.Canceled", err)
	}
	if got := len(f.sim.Instances(west)); got != 0 {
		t.Errorf("awssim holds %d instances, want 0", got)
	}
}

func TestRunInstancesErrors(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name     string
		in       cloud.RunInput
		wantCode string
	}{
		{"unknown image", cloud.RunInput{Region: west, ImageID: "ami-0000000000000dead", Type: "t3.micro"}, "InvalidAMIID.NotFound"},
		{"unknown key", cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro", KeyName: "nobody"}, "InvalidKeyPair.NotFound"},
		{"bad type", cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t9.huge"}, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.c.RunInstances(f.ctx, tt.in)
			if got := cloud.Code(err); got != tt.wantCode {
				t.Errorf("Code(%v) = %q, want %q", err, got, tt.wantCode)
			}
		})
	}
	if _, err := f.c.RunInstances(f.ctx, cloud.RunInput{ImageID: awssim.FixedImageID, Type: "t3.micro"}); err == nil {
		t.Errorf("RunInstances without a region succeeded, want an error")
	}
}

func TestDescribeInstancesPagination(t *testing.T) {
	f := setup(t)
	var all []string
	for i, n := range []int{1000, 150} {
		all = append(all, ids(f.run(t, cloud.RunInput{ClientToken: fmt.Sprintf("tok-page-%d", i), Count: n}))...)
	}
	got, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if len(got) != len(all) {
		t.Fatalf("DescribeInstances returned %d instances, want %d", len(got), len(all))
	}
	gotIDs := ids(got)
	sort.Strings(gotIDs)
	sort.Strings(all)
	if !slices.Equal(gotIDs, all) {
		t.Errorf("DescribeInstances returned a different set of ids than were launched")
	}

	// More ids than one filter may hold: the client splits them.
	some := all[:450]
	got, err = f.c.DescribeInstances(f.ctx, west, cloud.Filter{IDs: some})
	if err != nil {
		t.Fatalf("DescribeInstances(450 ids): %v", err)
	}
	if len(got) != len(some) {
		t.Errorf("DescribeInstances(450 ids) returned %d, want %d", len(got), len(some))
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	f := setup(t)
	alice := f.run(t, cloud.RunInput{ClientToken: "tok-a", Count: 2,
		Tags: map[string]string{cloud.TagOwner: "alice", cloud.TagPurpose: "user"}})
	bob := f.run(t, cloud.RunInput{ClientToken: "tok-b",
		Tags: map[string]string{cloud.TagOwner: "bob", cloud.TagPurpose: "balancer"}})
	untagged := f.run(t, cloud.RunInput{ClientToken: "tok-u"})
	f.sim.Advance(time.Minute) // all running
	if _, err := f.c.StopInstances(f.ctx, west, ids(bob)); err != nil {
		t.Fatalf("StopInstances: %v", err)
	}
	f.sim.Advance(time.Minute) // bob's stopped

	tests := []struct {
		name   string
		filter cloud.Filter
		want   []string
	}{
		{"everything", cloud.Filter{}, append(append(ids(alice), ids(bob)...), ids(untagged)...)},
		{"by tag value", cloud.Filter{Tags: map[string]string{cloud.TagOwner: "alice"}}, ids(alice)},
		{"two tags", cloud.Filter{Tags: map[string]string{cloud.TagOwner: "bob", cloud.TagPurpose: "balancer"}}, ids(bob)},
		{"tags that never meet", cloud.Filter{Tags: map[string]string{cloud.TagOwner: "bob", cloud.TagPurpose: "user"}}, nil},
		{"by tag key", cloud.Filter{TagKeys: []string{cloud.TagOwner}}, append(ids(alice), ids(bob)...)},
		{"by state", cloud.Filter{States: []string{"stopped"}}, ids(bob)},
		{"by two states", cloud.Filter{States: []string{"running", "stopped"}}, append(append(ids(alice), ids(bob)...), ids(untagged)...)},
		{"by client token", cloud.Filter{ClientToken: "tok-a"}, ids(alice)},
		{"by id", cloud.Filter{IDs: ids(untagged)}, ids(untagged)},
		{"unknown id is absent, not an error", cloud.Filter{IDs: []string{"i-0123456789abcdef0", bob[0].ID}}, ids(bob)},
		{"id and state", cloud.Filter{IDs: ids(alice), States: []string{"stopped"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.c.DescribeInstances(f.ctx, west, tt.filter)
			if err != nil {
				t.Fatalf("DescribeInstances(%+v): %v", tt.filter, err)
			}
			g, w := ids(got), slices.Clone(tt.want)
			sort.Strings(g)
			sort.Strings(w)
			if !slices.Equal(g, w) {
				t.Errorf("DescribeInstances(%+v) = %v, want %v", tt.filter, g, w)
			}
		})
	}
}

func TestInstanceLifecycle(t *testing.T) {
	f := setup(t)
	id := f.run(t, cloud.RunInput{})[0].ID
	f.sim.Advance(time.Minute)
	steps := []struct {
		name          string
		call          func(context.Context, string, []string) ([]cloud.StateChange, error)
		previous, now string
		settled       string
	}{
		{"stop", f.c.StopInstances, "running", "stopping", "stopped"},
		{"start", f.c.StartInstances, "stopped", "pending", "running"},
		{"terminate", f.c.TerminateInstances, "running", "shutting-down", "terminated"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.call(f.ctx, west, []string{id})
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			want := []cloud.StateChange{{ID: id, Previous: s.previous, Current: s.now}}
			if !slices.Equal(got, want) {
				t.Errorf("%s = %+v, want %+v", s.name, got, want)
			}
			f.sim.Advance(5 * time.Minute)
			insts, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{IDs: []string{id}})
			if err != nil || len(insts) != 1 {
				t.Fatalf("DescribeInstances = %v, %v; want one instance", insts, err)
			}
			if insts[0].State != s.settled {
				t.Errorf("state after %s = %q, want %q", s.name, insts[0].State, s.settled)
			}
			if insts[0].StateTransitionReason == "" && s.name != "start" {
				t.Errorf("StateTransitionReason empty after %s", s.name)
			}
		})
	}
	insts, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{IDs: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if got, want := insts[0].StateReasonCode, "Client.UserInitiatedShutdown"; got != want {
		t.Errorf("StateReasonCode after terminate = %q, want %q", got, want)
	}
}

func TestCreateTags(t *testing.T) {
	f := setup(t)
	insts := f.run(t, cloud.RunInput{Tags: map[string]string{cloud.TagOwner: "carol", cloud.TagExpires: "2026-01-05T04:00:00Z"}})
	if err := f.c.CreateTags(f.ctx, west, ids(insts), map[string]string{cloud.TagExpires: "2026-01-05T08:00:00Z", "extra": "x"}); err != nil {
		t.Fatalf("CreateTags: %v", err)
	}
	got, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{IDs: ids(insts)})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	want := map[string]string{cloud.TagOwner: "carol", cloud.TagExpires: "2026-01-05T08:00:00Z", "extra": "x"}
	if fmt.Sprint(got[0].Tags) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", got[0].Tags, want)
	}
	if err := f.c.CreateTags(f.ctx, west, []string{"i-0123456789abcdef0"}, map[string]string{"a": "b"}); !cloud.IsNotFound(err) {
		t.Errorf("CreateTags on an unknown instance = %v, want a NotFound error", err)
	}
	if err := f.c.CreateTags(f.ctx, west, nil, map[string]string{"a": "b"}); err != nil {
		t.Errorf("CreateTags on no resources = %v, want nil", err)
	}
}

// TestRunInstancesRootVolume checks that a volume override lands on each image's own
// root device: resized in place, never a second volume beside the image's root.
func TestRunInstancesRootVolume(t *testing.T) {
	f := setup(t)
	images, err := f.c.DescribeImages(f.ctx, west, nil, []string{"al2023-ami-*-x86_64"})
	if err != nil || len(images) != 1 {
		t.Fatalf("DescribeImages(al2023) = %+v, %v; want one image", images, err)
	}
	tests := []struct {
		name, image string
		size        int
		volType     string
		wantSize    int
		wantType    string
	}{
		{"ubuntu root /dev/sda1 resized", awssim.FixedImageID, 30, "", 30, "gp3"},
		{"amazon linux root /dev/xvda resized", images[0].ID, 12, "gp2", 12, "gp2"},
		{"type only keeps the image's size", images[0].ID, 0, "gp2", 8, "gp2"},
		{"no override", awssim.FixedImageID, 0, "", 8, "gp3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insts := f.run(t, cloud.RunInput{ClientToken: fmt.Sprintf("tok-root-%d", i), ImageID: tt.image,
				VolumeSizeGB: tt.size, VolumeType: tt.volType})
			vols, err := f.c.DescribeVolumes(f.ctx, west, ids(insts))
			if err != nil {
				t.Fatalf("DescribeVolumes: %v", err)
			}
			if len(vols) != 1 {
				t.Fatalf("%d volumes (%+v), want exactly the root", len(vols), vols)
			}
			if vols[0].SizeGB != tt.wantSize || vols[0].Type != tt.wantType {
				t.Errorf("root volume = %d GB %s, want %d GB %s", vols[0].SizeGB, vols[0].Type, tt.wantSize, tt.wantType)
			}
		})
	}
	_, err = f.c.RunInstances(f.ctx, cloud.RunInput{Region: west, ImageID: "ami-0000000000000dead", Type: "t3.micro", VolumeSizeGB: 20})
	if !cloud.IsNotFound(err) {
		t.Errorf("RunInstances with an unknown image and a volume override = %v, want a NotFound error", err)
	}
}

// TestRunInstancesCompleteRootMapping launches the way the broker does (a policy volume
// type, with or without a size) and checks that the root mapping sent is complete:
// awssim, like EC2, refuses an EBS mapping with neither size nor snapshot id, and a size
// below the image's snapshot. The root volume must come out on the image's root device,
// from its snapshot, at max(policy size, image size), with the policy's type and deleted
// on termination; the image is described once, then cached.
func TestRunInstancesCompleteRootMapping(t *testing.T) {
	f := setup(t)
	debian, err := f.c.DescribeImages(f.ctx, west, nil, []string{"debian-12-*"})
	if err != nil || len(debian) != 1 {
		t.Fatalf("DescribeImages(debian) = %+v, %v; want one image", debian, err)
	}
	ubuntu, err := f.c.DescribeImages(f.ctx, west, []string{awssim.FixedImageID}, nil)
	if err != nil || len(ubuntu) != 1 {
		t.Fatalf("DescribeImages(%s) = %+v, %v; want one image", awssim.FixedImageID, ubuntu, err)
	}
	for _, im := range append(debian, ubuntu...) {
		if im.RootDeviceName == "" || im.RootDeviceType != "ebs" || im.RootSnapshotID == "" || im.RootSizeGB == 0 {
			t.Fatalf("image %+v: want an EBS root with a device, a snapshot and a size", im)
		}
	}
	deb, ubu := debian[0], ubuntu[0]
	if deb.RootSizeGB != awssim.DebianRootSizeGiB {
		t.Fatalf("debian root %d GB, want %d", deb.RootSizeGB, awssim.DebianRootSizeGiB)
	}
	before := f.tr.sent("DescribeImages")
	tests := []struct {
		name     string
		image    cloud.Image
		size     int
		volType  string
		wantSize int
		wantType string
	}{
		{"type only (the default policy)", ubu, 0, "gp3", ubu.RootSizeGB, "gp3"},
		{"type only, again: cached", ubu, 0, "gp3", ubu.RootSizeGB, "gp3"},
		{"policy larger than the image", ubu, 25, "gp2", 25, "gp2"},
		{"policy smaller than the image", deb, deb.RootSizeGB - 4, "gp3", deb.RootSizeGB, "gp3"},
		{"size only: gp3 by default", deb, deb.RootSizeGB + 1, "", deb.RootSizeGB + 1, "gp3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insts := f.run(t, cloud.RunInput{ClientToken: fmt.Sprintf("tok-complete-%d", i), ImageID: tt.image.ID,
				VolumeSizeGB: tt.size, VolumeType: tt.volType})
			vols, err := f.c.DescribeVolumes(f.ctx, west, ids(insts))
			if err != nil {
				t.Fatalf("DescribeVolumes: %v", err)
			}
			if len(vols) != 1 {
				t.Fatalf("%d volumes (%+v), want exactly the root", len(vols), vols)
			}
			v := vols[0]
			checks := []struct {
				name      string
				got, want any
			}{
				{"size", v.SizeGB, tt.wantSize},
				{"type", v.Type, tt.wantType},
				{"delete on termination", v.DeleteOnTermination, true},
				{"device", v.Device, tt.image.RootDeviceName},
				{"snapshot", v.SnapshotID, tt.image.RootSnapshotID},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("root volume %s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
	if got, want := f.tr.sent("DescribeImages")-before, 2; got != want {
		t.Errorf("%d DescribeImages calls for %d launches of 2 images, want %d (one per image)", got, len(tests), want)
	}
}
