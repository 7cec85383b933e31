package cloud_test

import (
	"context"
	"testing"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

// BenchmarkFairLimiterUncontended measures the limiter's cost when tokens are plentiful:
// what every RunInstances pays before the call itself.
func BenchmarkFairLimiterUncontended(b *testing.B) {
	l := cloud.NewFairLimiter(1e9, 1e9, nil, nil)
	ctx := context.Background()
	for b.Loop() {
		if err := l.Wait(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeInstances1000 pages through 1000 instances over HTTP with the real
// SDK against awssim: the collector's cost per thousand instances, simulator included.
func BenchmarkDescribeInstances1000(b *testing.B) {
	f := setup(b)
	if _, err := f.c.RunInstances(f.ctx, cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro", Count: 1000}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{})
		if err != nil || len(got) != 1000 {
			b.Fatalf("DescribeInstances = %d instances, %v", len(got), err)
		}
	}
}
