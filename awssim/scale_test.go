package awssim_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/tollgate/tollgate/awssim"
)

func TestConcurrentRunInstances(t *testing.T) {
	e := newEnv(t)
	const n = 200
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := e.west()
			// Every request carries a token, and half of them are sent twice, as a
			// retrying client would.
			tok := fmt.Sprintf("tok-%d", i%(n/2))
			out, err := c.RunInstances(e.ctx, runInput(token(tok), tags("n", fmt.Sprint(i%(n/2)))))
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = *out.Instances[0].InstanceId
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	for i := 0; i < n/2; i++ {
		if ids[i] != ids[i+n/2] {
			t.Fatalf("token tok-%d launched twice: %s %s", i, ids[i], ids[i+n/2])
		}
	}
	if got := len(e.listIDs(e.west(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(50)})); got != n/2 {
		t.Fatalf("%d instances", got)
	}
}

func TestDescribeAtScale(t *testing.T) {
	e := newEnv(t)
	regions := awssim.DefaultRegions
	per := int32(1000)
	if raceEnabled || testing.Short() {
		per = 200
	}
	for _, r := range regions {
		e.runIn(e.ec2(r), count(per), tags("owner", "load"))
	}
	e.advance(time.Minute)
	start := time.Now()
	total := 0
	for _, r := range regions {
		total += len(e.listIDs(e.ec2(r), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)}))
	}
	if total != int(per)*len(regions) {
		t.Fatalf("%d instances", total)
	}
	full := time.Since(start)
	// A sparse filter must not turn paging quadratic either.
	start = time.Now()
	ids := e.listIDs(e.west(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), Filters: []types.Filter{filter("instance-state-name", "stopped")}})
	if len(ids) != 0 {
		t.Fatalf("%d stopped", len(ids))
	}
	t.Logf("paged %d instances in %v; sparse filter in %v", total, full, time.Since(start))
	if full > 20*time.Second {
		t.Fatalf("paging took %v", full)
	}
}
