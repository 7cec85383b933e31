package cloud_test

import (
	"testing"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

// TestCapacityErrorNotRetried: InsufficientInstanceCapacity (an HTTP 500) is answered
// once, not repeated by the SDK's retryer: the caller tries another type or zone.
func TestCapacityErrorNotRetried(t *testing.T) {
	f := setup(t)
	f.sim.SetFaults(awssim.Faults{InsufficientCapacity: []awssim.CapacityFault{{Region: west, Type: "t3.micro"}}})
	_, err := f.c.RunInstances(f.ctx, cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro"})
	if !cloud.IsCapacityError(err) || cloud.IsRetryable(err) {
		t.Fatalf("err = %v: want a capacity error that is not retryable", err)
	}
	if n := f.tr.sent("RunInstances"); n != 1 {
		t.Errorf("RunInstances sent %d times, want once", n)
	}
}
