package awssim_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
)

func TestThrottling(t *testing.T) {
	filtered := &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("instance-state-name", "running")}}
	cases := []struct {
		name    string
		buckets awssim.ThrottleBuckets
		call    func(e *env) error
		burst   int // calls that succeed before throttling
		refill  time.Duration
	}{
		{"non-mutating", awssim.ThrottleBuckets{NonMutating: awssim.Bucket{Size: 3, RefillPerSecond: 1}},
			func(e *env) error { _, err := e.west().DescribeInstances(e.ctx, filtered); return err }, 3, time.Second},
		{"unfiltered non-mutating", awssim.ThrottleBuckets{UnfilteredNonMutating: awssim.Bucket{Size: 2, RefillPerSecond: 0.5}},
			func(e *env) error {
				_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{})
				return err
			}, 2, 2 * time.Second},
		{"mutating", awssim.ThrottleBuckets{Mutating: awssim.Bucket{Size: 2, RefillPerSecond: 1}},
			func(e *env) error {
				_, err := e.west().DeleteKeyPair(e.ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("absent")})
				return err
			}, 2, time.Second},
		{"run instances requests", awssim.ThrottleBuckets{ResourceIntensive: awssim.Bucket{Size: 2, RefillPerSecond: 1}},
			func(e *env) error { _, err := e.west().RunInstances(e.ctx, runInput()); return err }, 2, time.Second},
		{"run instances resource tokens", awssim.ThrottleBuckets{RunInstancesResource: awssim.Bucket{Size: 5, RefillPerSecond: 2}},
			func(e *env) error { _, err := e.west().RunInstances(e.ctx, runInput(count(2))); return err }, 2, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := tc.buckets
			e.sim.SetFaults(awssim.Faults{Throttle: true, Buckets: &b})
			for i := 0; i < tc.burst; i++ {
				if err := tc.call(e); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			wantCode(t, tc.call(e), "RequestLimitExceeded", 503)
			// Other actions and other regions have their own buckets.
			if _, err := e.ec2("eu-west-1").DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"eu-west-1"}}); err != nil {
				t.Fatalf("other bucket throttled: %v", err)
			}
			e.advance(tc.refill)
			if err := tc.call(e); err != nil {
				t.Fatalf("after refill: %v", err)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		e := newEnv(t)
		for i := 0; i < 150; i++ {
			if _, err := e.west().DescribeInstances(e.ctx, filtered); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("documented defaults", func(t *testing.T) {
		e := newEnv(t)
		e.sim.SetFaults(awssim.Faults{Throttle: true})
		n := 0
		for ; n < 200; n++ {
			if _, err := e.west().DescribeInstances(e.ctx, filtered); err != nil {
				wantCode(t, err, "RequestLimitExceeded", 503)
				break
			}
		}
		if want := int(awssim.DefaultThrottleBuckets().NonMutating.Size); n != want {
			t.Fatalf("throttled after %d, want %d", n, want)
		}
	})
}

func TestErrorRate(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	sequence := func() []string {
		e.sim.SetFaults(awssim.Faults{Seed: 7, ErrorRate: map[string]float64{"DescribeRegions": 0.5}})
		var out []string
		for i := 0; i < 30; i++ {
			_, err := c.DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{})
			code, status := apiCode(err)
			switch {
			case err == nil:
				out = append(out, "ok")
			case code == "InternalError" && status == 500, code == "Unavailable" && status == 503:
				out = append(out, code)
			default:
				t.Fatalf("unexpected %v", err)
			}
		}
		return out
	}
	a, b := sequence(), sequence()
	oks, internal, unavailable := 0, 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcomes at %d: %v vs %v", i, a, b)
		}
		switch a[i] {
		case "ok":
			oks++
		case "InternalError":
			internal++
		default:
			unavailable++
		}
	}
	if oks == 0 || internal == 0 || unavailable == 0 {
		t.Fatalf("outcomes %v", a)
	}
	t.Run("failed requests are not applied", func(t *testing.T) {
		e.sim.SetFaults(awssim.Faults{ErrorRate: map[string]float64{"*": 1}})
		_, err := c.RunInstances(e.ctx, runInput())
		if code, _ := apiCode(err); code != "InternalError" && code != "Unavailable" {
			t.Fatalf("got %v", err)
		}
		if n := len(e.sim.Instances("")); n != 0 {
			t.Fatalf("%d instances launched", n)
		}
	})
}

func TestFailAfterApply(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	e.sim.SetFaults(awssim.Faults{FailAfterApply: map[string]float64{"RunInstances": 1}})
	_, err := c.RunInstances(e.ctx, runInput(token("crash-1"), tags("owner", "alice")))
	wantCode(t, err, "InternalError", 500)
	snap := e.sim.Instances("")
	if len(snap) != 1 || snap[0].ClientToken != "crash-1" {
		t.Fatalf("the launch should have happened: %+v", snap)
	}
	e.sim.SetFaults(awssim.Faults{})
	t.Run("retry with the same token adopts the launch", func(t *testing.T) {
		out, err := c.RunInstances(e.ctx, runInput(token("crash-1"), tags("owner", "alice")))
		if err != nil {
			t.Fatal(err)
		}
		if *out.Instances[0].InstanceId != snap[0].ID || len(e.sim.Instances("")) != 1 {
			t.Fatal("retry launched a second instance")
		}
	})
	t.Run("lookup by client-token finds it", func(t *testing.T) {
		ids := e.listIDs(c, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("client-token", "crash-1")}})
		if len(ids) != 1 || ids[0] != snap[0].ID {
			t.Fatalf("got %v", ids)
		}
	})
	t.Run("other actions unaffected", func(t *testing.T) {
		e.sim.SetFaults(awssim.Faults{FailAfterApply: map[string]float64{"RunInstances": 1}})
		if _, err := c.TerminateInstances(e.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{snap[0].ID}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNotFoundWindow(t *testing.T) {
	e := newEnv(t)
	c := e.west()
	e.sim.SetFaults(awssim.Faults{NotFoundWindow: 5 * time.Second})
	id := e.run()[0]
	_, err := c.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, "InvalidInstanceID.NotFound", 400)
	e.advance(4 * time.Second)
	_, err = c.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, "InvalidInstanceID.NotFound", 400)
	e.advance(time.Second)
	if got := e.state(id); got != "pending" {
		t.Fatalf("state %s", got)
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFaults(awssim.Faults{Latency: 20 * time.Millisecond})
	start := time.Now()
	if _, err := e.west().DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("answered in %v", d)
	}
}
