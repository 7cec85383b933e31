package awssim_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
)

func entry(t *testing.T, l awssim.Ledger, id string) awssim.LedgerEntry {
	t.Helper()
	for _, e := range l.Instances {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("%s not in ledger", id)
	return awssim.LedgerEntry{}
}

// ebs is the expected EBS charge for size GiB of a type over d.
func ebs(size int, typ string, d time.Duration) float64 {
	return float64(size) * awssim.EBSPricePerGBMonth[typ] * d.Seconds() / (awssim.HoursPerMonth * 3600)
}

func TestLedger(t *testing.T) {
	price, _ := awssim.OnDemandPrice("us-west-2", "t3.micro")
	stop := func(e *env, id string) {
		if _, err := e.west().StopInstances(e.ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
			e.t.Fatal(err)
		}
	}
	start := func(e *env, id string) {
		if _, err := e.west().StartInstances(e.ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
			e.t.Fatal(err)
		}
	}
	terminate := func(e *env, id string) {
		if _, err := e.west().TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
			e.t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		script   func(e *env, id string)
		seconds  int64
		periods  int
		ebsAlive time.Duration // how long the root volume has existed
		state    string
	}{
		{"pending is free", func(e *env, id string) { e.advance(10 * time.Second) }, 0, 0, 10 * time.Second, "pending"},
		{"per second while running", func(e *env, id string) { e.advance(15*time.Second + 1000*time.Second) }, 1000, 1, 1015 * time.Second, "running"},
		{"minimum applies to an ongoing period", func(e *env, id string) { e.advance(15*time.Second + 10*time.Second) }, 60, 1, 25 * time.Second, "running"},
		{"short period billed 60s", func(e *env, id string) {
			e.advance(15*time.Second + 20*time.Second)
			stop(e, id)
			e.advance(time.Hour)
		}, 60, 1, time.Hour + 35*time.Second, "stopped"},
		{"stop start periods each billed", func(e *env, id string) {
			e.advance(15*time.Second + 100*time.Second)
			stop(e, id) // 100 s
			e.advance(40 * time.Second)
			start(e, id)
			e.advance(15*time.Second + 30*time.Second)
			stop(e, id) // 30 s -> 60 s
			e.advance(40 * time.Second)
			start(e, id)
			e.advance(15*time.Second + 500*time.Second) // ongoing 500 s
		}, 100 + 60 + 500, 3, 755 * time.Second, "running"},
		{"stopping and shutting-down are free, EBS ends at terminated", func(e *env, id string) {
			e.advance(15*time.Second + 300*time.Second)
			terminate(e, id)
			e.advance(10 * time.Hour)
		}, 300, 1, 15*time.Second + 300*time.Second + 30*time.Second, "terminated"},
		{"terminate while pending", func(e *env, id string) {
			e.advance(5 * time.Second)
			terminate(e, id)
			e.advance(time.Hour)
		}, 0, 0, 35 * time.Second, "terminated"},
		{"forget bills as terminated now", func(e *env, id string) {
			e.advance(15*time.Second + 200*time.Second)
			e.sim.Forget(id)
			e.advance(time.Hour)
		}, 200, 1, 215 * time.Second, "terminated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.run()[0]
			tc.script(e, id)
			l := e.sim.Ledger()
			got := entry(t, l, id)
			if got.BilledSeconds != tc.seconds || len(got.Periods) != tc.periods || got.State != tc.state {
				t.Fatalf("billed %d s in %d periods (%s), want %d s in %d (%s): %+v", got.BilledSeconds, len(got.Periods), got.State, tc.seconds, tc.periods, tc.state, got)
			}
			if want := float64(tc.seconds) * price / 3600; !near(got.ComputeUSD, want) {
				t.Fatalf("compute %v want %v", got.ComputeUSD, want)
			}
			if want := ebs(8, "gp3", tc.ebsAlive); !near(got.EBSUSD, want) {
				t.Fatalf("ebs %v want %v", got.EBSUSD, want)
			}
			if !near(got.CostUSD, got.ComputeUSD+got.EBSUSD) || !near(l.TotalUSD, got.CostUSD) {
				t.Fatalf("totals %+v", l)
			}
		})
	}
}

func TestLedgerSpot(t *testing.T) {
	e := newEnv(t)
	// Launch one minute before a spot price change so the running period spans two prices.
	e.advance(awssim.SpotPricePeriod - time.Minute)
	id := e.run(spot(""))[0]
	in := e.describe(id)
	if in.InstanceLifecycle != types.InstanceLifecycleTypeSpot || in.SpotInstanceRequestId == nil {
		t.Fatalf("not spot: %+v", in)
	}
	az := *in.Placement.AvailabilityZone
	running := awssim.DefaultStart.Add(awssim.SpotPricePeriod - 45*time.Second)
	boundary := awssim.DefaultStart.Add(awssim.SpotPricePeriod)
	e.advance(time.Minute + 10*time.Minute)
	if _, err := e.west().TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	p1, _ := awssim.SpotPrice("us-west-2", az, "t3.micro", running)
	p2, _ := awssim.SpotPrice("us-west-2", az, "t3.micro", boundary)
	od, _ := awssim.OnDemandPrice("us-west-2", "t3.micro")
	if p1 == p2 || p1 >= od || p2 >= od {
		t.Fatalf("spot prices %v %v (on-demand %v)", p1, p2, od)
	}
	got := entry(t, e.sim.Ledger(), id)
	want := 45*p1/3600 + 600*p2/3600
	if !got.Spot || got.BilledSeconds != 645 || !near(got.ComputeUSD, want) {
		t.Fatalf("spot ledger %+v, want compute %v", got, want)
	}
	t.Run("max price above current launches", func(t *testing.T) {
		e.run(spot("1.0"))
	})
}

func TestLedgerEBS(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	out, err := c.RunInstances(e.ctx, runInput(func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(30), VolumeType: types.VolumeTypeGp2}},
			{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(100), VolumeType: types.VolumeTypeIo1, Iops: aws.Int32(1000), DeleteOnTermination: aws.Bool(false)}},
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	id := *out.Instances[0].InstanceId
	e.advance(time.Hour)
	if _, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Hour)
	alive := time.Hour + 30*time.Second
	got := entry(t, e.sim.Ledger(), id)
	want := ebs(30, "gp2", alive) + ebs(100, "io1", 3*time.Hour)
	if !near(got.EBSUSD, want) {
		t.Fatalf("ebs %v want %v", got.EBSUSD, want)
	}
	t.Run("kept volume bills until deleted", func(t *testing.T) {
		vols, err := c.DescribeVolumes(e.ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("status", "available")}})
		if err != nil || len(vols.Volumes) != 1 || *vols.Volumes[0].Size != 100 {
			t.Fatalf("%v %+v", err, vols)
		}
		if _, err := c.DeleteVolume(e.ctx, &ec2.DeleteVolumeInput{VolumeId: vols.Volumes[0].VolumeId}); err != nil {
			t.Fatal(err)
		}
		e.advance(5 * time.Hour)
		got := entry(t, e.sim.Ledger(), id)
		if !near(got.EBSUSD, want) {
			t.Fatalf("ebs after delete %v want %v", got.EBSUSD, want)
		}
	})
}
