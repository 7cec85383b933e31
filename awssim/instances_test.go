package awssim_test

import (
	"encoding/base64"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
)

func TestRunInstancesShape(t *testing.T) {
	e := newEnv(t)
	e.sim.AddInstanceProfile("worker")
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))
	out, err := e.west().RunInstances(e.ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(awssim.FixedImageID), InstanceType: types.InstanceTypeT3Small,
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), UserData: aws.String(ud),
		SecurityGroupIds:   []string{"sg-0aaaabbbbccccdddd"},
		SubnetId:           aws.String("subnet-0123456789abcdef0"),
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Name: aws.String("worker")},
		Placement:          &types.Placement{AvailabilityZone: aws.String("us-west-2b")},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("alice")}}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("alice-vol")}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Instances) != 2 || out.ReservationId == nil || *out.OwnerId != awssim.AccountID {
		t.Fatalf("reservation: %+v", out)
	}
	for i, in := range out.Instances {
		switch {
		case in.State.Name != types.InstanceStateNamePending || *in.State.Code != 0:
			t.Errorf("state %v", in.State.Name)
		case *in.AmiLaunchIndex != int32(i):
			t.Errorf("launch index %d", *in.AmiLaunchIndex)
		case *in.Placement.AvailabilityZone != "us-west-2b":
			t.Errorf("az %s", *in.Placement.AvailabilityZone)
		case *in.SubnetId != "subnet-0123456789abcdef0":
			t.Errorf("subnet %s", *in.SubnetId)
		case len(in.SecurityGroups) != 1 || *in.SecurityGroups[0].GroupId != "sg-0aaaabbbbccccdddd":
			t.Errorf("groups %+v", in.SecurityGroups)
		case in.IamInstanceProfile == nil || *in.IamInstanceProfile.Arn != "arn:aws:iam::123456789012:instance-profile/worker":
			t.Errorf("profile %+v", in.IamInstanceProfile)
		case in.PrivateIpAddress == nil || in.PublicIpAddress == nil || in.PrivateDnsName == nil:
			t.Errorf("addresses missing")
		case !in.LaunchTime.Equal(awssim.DefaultStart):
			t.Errorf("launch time %v", in.LaunchTime)
		case len(in.Tags) != 1 || *in.Tags[0].Value != "alice":
			t.Errorf("tags %+v", in.Tags)
		case len(in.BlockDeviceMappings) != 1 || *in.BlockDeviceMappings[0].DeviceName != "/dev/sda1":
			t.Errorf("bdm %+v", in.BlockDeviceMappings)
		case in.InstanceLifecycle != "" || in.SpotInstanceRequestId != nil:
			t.Errorf("on-demand instance has spot fields")
		}
	}
	if *out.Instances[0].InstanceId == *out.Instances[1].InstanceId || *out.Instances[0].PrivateIpAddress == *out.Instances[1].PrivateIpAddress {
		t.Error("instances share id or address")
	}
	snap := e.sim.Instances("us-west-2")
	if len(snap) != 2 || snap[0].UserData != ud || snap[0].Tags["owner"] != "alice" {
		t.Fatalf("ground truth %+v", snap)
	}
	vols, err := e.west().DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("tag:owner", "alice-vol")}})
	if err != nil || len(vols.Volumes) != 2 {
		t.Fatalf("volume tags: %v %d", err, len(vols.Volumes))
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	e := newEnv(t)
	a := e.run(tags("owner", "alice", "Name", "web-1"), token("tok-a"))
	b := e.run(tags("owner", "bob"), itype("t3.small"), count(2))
	s := e.run(tags("owner", "carol"), spot(""))
	plain := e.run()
	e.advance(20 * time.Second)
	if _, err := e.west().StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: b[:1]}); err != nil {
		t.Fatal(err)
	}
	all := slices.Concat(a, b, s, plain)
	cases := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"none", nil, all},
		{"instance-id", []types.Filter{filter("instance-id", a[0], s[0])}, []string{a[0], s[0]}},
		{"instance-state-name running", []types.Filter{filter("instance-state-name", "running")}, slices.Concat(a, b[1:], s, plain)},
		{"instance-state-name stopping", []types.Filter{filter("instance-state-name", "stopping")}, b[:1]},
		{"tag:owner", []types.Filter{filter("tag:owner", "bob")}, b},
		{"tag:owner two values", []types.Filter{filter("tag:owner", "alice", "carol")}, slices.Concat(a, s)},
		{"tag wildcard", []types.Filter{filter("tag:Name", "web-*")}, a},
		{"tag-key", []types.Filter{filter("tag-key", "owner")}, slices.Concat(a, b, s)},
		{"tag-key Name", []types.Filter{filter("tag-key", "Name")}, a},
		{"client-token", []types.Filter{filter("client-token", "tok-a")}, a},
		{"instance-type", []types.Filter{filter("instance-type", "t3.small")}, b},
		{"instance-lifecycle spot", []types.Filter{filter("instance-lifecycle", "spot")}, s},
		{"AND of filters", []types.Filter{filter("tag:owner", "bob"), filter("instance-state-name", "running")}, b[1:]},
		{"no match", []types.Filter{filter("tag:owner", "nobody")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := e.listIDs(e.west(), &ec2.DescribeInstancesInput{Filters: tc.filters})
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v want %v", got, want)
			}
		})
	}
	t.Run("unknown filter", func(t *testing.T) {
		_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("bogus", "x")}})
		wantCode(t, err, "InvalidParameterValue", 400)
	})
	t.Run("regions are independent", func(t *testing.T) {
		if got := e.listIDs(e.ec2("us-east-1"), &ec2.DescribeInstancesInput{}); len(got) != 0 {
			t.Fatalf("us-east-1 sees %v", got)
		}
		_, err := e.ec2("us-east-1").DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: a})
		wantCode(t, err, "InvalidInstanceID.NotFound", 400)
	})
}

func TestDescribeInstancesPagination(t *testing.T) {
	e := newEnv(t)
	var all []string
	for _, n := range []int32{3, 1, 7, 2, 10} {
		all = append(all, e.run(count(n), tags("batch", "x"))...)
	}
	e.run(tags("batch", "y"))
	cases := []struct {
		name    string
		max     int32
		filters []types.Filter
		pages   int
	}{
		{"max 5", 5, nil, 5},
		{"max 6", 6, nil, 4},
		{"max 1000", 1000, nil, 1},
		{"filtered max 5", 5, []types.Filter{filter("tag:batch", "x")}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ec2.NewDescribeInstancesPaginator(e.west(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(tc.max), Filters: tc.filters})
			var got []string
			pages := 0
			for p.HasMorePages() {
				out, err := p.NextPage(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				n := 0
				seen := map[string]bool{}
				for _, r := range out.Reservations {
					if seen[*r.ReservationId] {
						t.Fatalf("reservation %s split within a page", *r.ReservationId)
					}
					seen[*r.ReservationId] = true
					for _, i := range r.Instances {
						got = append(got, *i.InstanceId)
						n++
					}
				}
				if n > int(tc.max) {
					t.Fatalf("page of %d > max %d", n, tc.max)
				}
			}
			want := len(all)
			if tc.filters == nil {
				want++
			}
			if len(got) != want || pages != tc.pages {
				t.Fatalf("got %d instances in %d pages, want %d in %d", len(got), pages, want, tc.pages)
			}
			if !slices.Equal(got[:len(all)], all) {
				t.Fatalf("order: got %v want %v", got, all)
			}
		})
	}
	t.Run("MaxResults out of range", func(t *testing.T) {
		_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)})
		wantCode(t, err, "InvalidParameterValue", 400)
	})
	t.Run("MaxResults with ids", func(t *testing.T) {
		_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), InstanceIds: all[:1]})
		wantCode(t, err, "InvalidParameterCombination", 400)
	})
	t.Run("bad NextToken", func(t *testing.T) {
		_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{NextToken: aws.String("garbage")})
		wantCode(t, err, "InvalidNextToken", 400)
	})
	t.Run("by id groups by reservation", func(t *testing.T) {
		out, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{all[5], all[0], all[1], all[0]}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Reservations) != 2 || len(out.Reservations[0].Instances) != 2 || len(out.Reservations[1].Instances) != 1 {
			t.Fatalf("grouping: %+v", out.Reservations)
		}
	})
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.run()[0]
	c := e.west()
	steps := []struct {
		name   string
		do     func(t *testing.T)
		adv    time.Duration
		want   string
		reason string
	}{
		{"launched", nil, 0, "pending", ""},
		{"still pending at 14s", nil, 14 * time.Second, "pending", ""},
		{"running at 15s", nil, time.Second, "running", ""},
		{"stop", func(t *testing.T) {
			out, err := c.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
			if err != nil {
				t.Fatal(err)
			}
			sc := out.StoppingInstances[0]
			if sc.PreviousState.Name != "running" || sc.CurrentState.Name != "stopping" || *sc.CurrentState.Code != 64 {
				t.Fatalf("state change %+v %+v", sc.PreviousState, sc.CurrentState)
			}
		}, 0, "stopping", "User initiated (2026-01-05 00:00:15 GMT)"},
		{"stop again is a no-op", func(t *testing.T) {
			out, err := c.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
			if err != nil || out.StoppingInstances[0].PreviousState.Name != "stopping" {
				t.Fatalf("%v %+v", err, out)
			}
		}, 0, "stopping", "User initiated (2026-01-05 00:00:15 GMT)"},
		{"start while stopping", func(t *testing.T) {
			_, err := c.StartInstances(e.ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
			wantCode(t, err, "IncorrectInstanceState", 400)
		}, 29 * time.Second, "stopping", "User initiated (2026-01-05 00:00:15 GMT)"},
		{"stopped at 30s", nil, time.Second, "stopped", "User initiated (2026-01-05 00:00:15 GMT)"},
		{"start", func(t *testing.T) {
			out, err := c.StartInstances(e.ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
			if err != nil || out.StartingInstances[0].CurrentState.Name != "pending" || out.StartingInstances[0].PreviousState.Name != "stopped" {
				t.Fatalf("%v %+v", err, out)
			}
		}, 10 * time.Minute, "pending", ""},
		{"running again", nil, 15 * time.Second, "running", ""},
		{"terminate", func(t *testing.T) {
			out, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
			if err != nil || out.TerminatingInstances[0].CurrentState.Name != "shutting-down" || out.TerminatingInstances[0].PreviousState.Name != "running" {
				t.Fatalf("%v %+v", err, out)
			}
		}, time.Hour, "shutting-down", "User initiated (2026-01-05 01:11:00 GMT)"},
		{"terminated at 30s", nil, 30 * time.Second, "terminated", "User initiated (2026-01-05 01:11:00 GMT)"},
		{"still visible just before an hour", nil, time.Hour - time.Second, "terminated", "User initiated (2026-01-05 01:11:00 GMT)"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.advance(st.adv)
			if st.do != nil {
				st.do(t)
			}
			in := e.describe(id)
			if string(in.State.Name) != st.want {
				t.Fatalf("state %s, want %s", in.State.Name, st.want)
			}
			if got := aws.ToString(in.StateTransitionReason); got != st.reason {
				t.Fatalf("reason %q, want %q", got, st.reason)
			}
			if st.reason != "" && (in.StateReason == nil || *in.StateReason.Code != "Client.UserInitiatedShutdown") {
				t.Fatalf("state reason %+v", in.StateReason)
			}
		})
	}
	t.Run("launch time moves on start", func(t *testing.T) {
		in := e.describe(id)
		if want := awssim.DefaultStart.Add(45*time.Second + 10*time.Minute); !in.LaunchTime.Equal(want) {
			t.Fatalf("launch time %v want %v", in.LaunchTime, want)
		}
	})
	t.Run("gone an hour after termination", func(t *testing.T) {
		e.advance(time.Second)
		_, err := c.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		wantCode(t, err, "InvalidInstanceID.NotFound", 400)
		if ids := e.listIDs(c, &ec2.DescribeInstancesInput{}); len(ids) != 0 {
			t.Fatalf("still listed: %v", ids)
		}
		if snap := e.sim.Instances(""); len(snap) != 1 || snap[0].Visible || snap[0].State != "terminated" {
			t.Fatalf("ground truth %+v", snap)
		}
	})
	t.Run("one big advance lands in the right state", func(t *testing.T) {
		id := e.run()[0]
		e.advance(3 * time.Hour)
		if got := e.state(id); got != "running" {
			t.Fatalf("state %s", got)
		}
	})
}

func TestStateChangeErrors(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	pending := e.run()[0]
	sp := e.run(spot(""))[0]
	cases := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"stop pending", func() error {
			_, err := c.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{pending}})
			return err
		}, "IncorrectInstanceState", 400},
		{"stop unknown", func() error {
			_, err := c.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{"i-0000000000000dead"}})
			return err
		}, "InvalidInstanceID.NotFound", 400},
		{"terminate malformed", func() error {
			_, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"instance-1"}})
			return err
		}, "InvalidInstanceID.Malformed", 400},
		{"start with one unknown id changes nothing", func() error {
			_, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{pending, "i-0000000000000dead"}})
			return err
		}, "InvalidInstanceID.NotFound", 400},
		{"stop one-time spot", func() error {
			e.advance(time.Minute)
			_, err := c.StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{sp}})
			return err
		}, "UnsupportedOperation", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code, tc.status) })
	}
	if got := e.state(pending); got != "running" {
		t.Fatalf("failed multi-id terminate changed state: %s", got)
	}
}

func TestClientToken(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	first, err := c.RunInstances(e.ctx, runInput(token("launch-1"), count(2), tags("owner", "alice")))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	t.Run("same token same params returns the original reservation", func(t *testing.T) {
		again, err := c.RunInstances(e.ctx, runInput(token("launch-1"), count(2), tags("owner", "alice")))
		if err != nil {
			t.Fatal(err)
		}
		if *again.ReservationId != *first.ReservationId || *again.Instances[1].InstanceId != *first.Instances[1].InstanceId {
			t.Fatalf("got a new reservation %s", *again.ReservationId)
		}
		if again.Instances[0].State.Name != "running" {
			t.Fatalf("state %s", again.Instances[0].State.Name)
		}
		if n := len(e.sim.Instances("")); n != 2 {
			t.Fatalf("%d instances exist", n)
		}
	})
	t.Run("same token different params", func(t *testing.T) {
		_, err := c.RunInstances(e.ctx, runInput(token("launch-1"), count(2), itype("t3.small"), tags("owner", "alice")))
		wantCode(t, err, "IdempotentParameterMismatch", 400)
	})
	t.Run("token is per region", func(t *testing.T) {
		ids := e.runIn(e.ec2("eu-west-1"), token("launch-1"), count(2), tags("owner", "alice"))
		if ids[0] == *first.Instances[0].InstanceId {
			t.Fatal("token leaked across regions")
		}
	})
	t.Run("client-token filter finds the launch", func(t *testing.T) {
		ids := e.listIDs(c, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("client-token", "launch-1")}})
		if len(ids) != 2 {
			t.Fatalf("got %v", ids)
		}
		if got := e.describe(ids[0]).ClientToken; aws.ToString(got) != "launch-1" {
			t.Fatalf("clientToken %v", got)
		}
	})
}

func TestRunInstancesErrors(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	cases := []struct {
		name   string
		in     *ec2.RunInstancesInput
		code   string
		status int
	}{
		{"unknown image", runInput(func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-00000000000000000") }), "InvalidAMIID.NotFound", 400},
		{"malformed image", runInput(func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ubuntu") }), "InvalidAMIID.Malformed", 400},
		{"missing image", runInput(func(in *ec2.RunInstancesInput) { in.ImageId = nil }), "MissingParameter", 400},
		{"unknown type", runInput(itype("t9.mega")), "InvalidParameterValue", 400},
		{"arch mismatch", runInput(itype("t4g.micro")), "InvalidParameterValue", 400},
		{"unknown key", runInput(func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("nokey") }), "InvalidKeyPair.NotFound", 400},
		{"min > max", runInput(func(in *ec2.RunInstancesInput) { in.MinCount, in.MaxCount = aws.Int32(3), aws.Int32(2) }), "InvalidParameterValue", 400},
		{"bad az", runInput(func(in *ec2.RunInstancesInput) {
			in.Placement = &types.Placement{AvailabilityZone: aws.String("us-east-1a")}
		}), "InvalidParameterValue", 400},
		{"bad user data", runInput(func(in *ec2.RunInstancesInput) { in.UserData = aws.String("not base64!") }), "InvalidParameterValue", 400},
		{"reserved tag", runInput(tags("aws:x", "y")), "InvalidParameterValue", 400},
		{"spot max price too low", runInput(spot("0.00001")), "SpotMaxPriceTooLow", 400},
		{"root smaller than image", runInput(func(in *ec2.RunInstancesInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(4)}}}
		}), "InvalidBlockDeviceMapping", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.RunInstances(e.ctx, tc.in)
			wantCode(t, err, tc.code, tc.status)
		})
	}
	if n := len(e.sim.Instances("")); n != 0 {
		t.Fatalf("failed launches created %d instances", n)
	}
	t.Run("arm image on graviton", func(t *testing.T) {
		imgs, err := c.DescribeImages(e.ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("name", "*jammy*arm64*")}})
		if err != nil || len(imgs.Images) != 1 {
			t.Fatalf("%v %d", err, len(imgs.Images))
		}
		e.run(itype("t4g.small"), func(in *ec2.RunInstancesInput) { in.ImageId = imgs.Images[0].ImageId })
	})
	t.Run("unknown action", func(t *testing.T) {
		_, err := c.DescribeHosts(e.ctx, &ec2.DescribeHostsInput{})
		wantCode(t, err, "InvalidAction", 400)
	})
	t.Run("dry run", func(t *testing.T) {
		in := runInput()
		in.DryRun = aws.Bool(true)
		_, err := c.RunInstances(e.ctx, in)
		wantCode(t, err, "DryRunOperation", 412)
	})
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	id := e.run(tags("owner", "alice"))[0]
	_, err := c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{
		{Key: aws.String("expiry"), Value: aws.String("2026-01-06T00:00:00Z")}, {Key: aws.String("owner"), Value: aws.String("bob")}}})
	if err != nil {
		t.Fatal(err)
	}
	in := e.describe(id)
	got := map[string]string{}
	for _, tg := range in.Tags {
		got[*tg.Key] = *tg.Value
	}
	if got["owner"] != "bob" || got["expiry"] == "" || len(got) != 2 {
		t.Fatalf("tags %v", got)
	}
	cases := []struct {
		name string
		ids  []string
		code string
	}{
		{"unknown instance", []string{"i-0000000000000dead"}, "InvalidInstanceID.NotFound"},
		{"malformed instance", []string{"i-xyz"}, "InvalidInstanceID.Malformed"},
		{"unknown volume", []string{"vol-0000000000000dead"}, "InvalidVolume.NotFound"},
		{"unknown kind", []string{"bogus-1"}, "InvalidID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: tc.ids, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			wantCode(t, err, tc.code, 400)
		})
	}
	t.Run("delete tags", func(t *testing.T) {
		_, err := c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("expiry")}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.describe(id).Tags); n != 1 {
			t.Fatalf("%d tags left", n)
		}
	})
}
