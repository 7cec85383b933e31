package awssim_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

func profile(name, arn string) runOpt {
	return func(in *ec2.RunInstancesInput) {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{}
		if name != "" {
			in.IamInstanceProfile.Name = aws.String(name)
		}
		if arn != "" {
			in.IamInstanceProfile.Arn = aws.String(arn)
		}
	}
}

// TestRunInstancesProfileMustExist: EC2 refuses an instance profile IAM does not have,
// launching nothing, and gives an instance the profile's own ARN and id.
func TestRunInstancesProfileMustExist(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, arn, msg string
	}{
		{"ghost", "", "Value (ghost) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"},
		{"", "arn:aws:iam::123456789012:instance-profile/ghost",
			"Value (arn:aws:iam::123456789012:instance-profile/ghost) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"},
	} {
		_, err := e.west().RunInstances(e.ctx, runInput(profile(c.name, c.arn)))
		wantCode(t, err, "InvalidParameterValue", 400)
		var ae smithy.APIError
		if errors.As(err, &ae); ae.ErrorMessage() != c.msg {
			t.Errorf("message %q, want %q", ae.ErrorMessage(), c.msg)
		}
	}
	if ids := e.listIDs(e.west(), &ec2.DescribeInstancesInput{}); len(ids) != 0 {
		t.Fatalf("refused launches left instances %v", ids)
	}

	// Created through IAM itself (over the SDK) with a path, and through the control path.
	iamOut := createProfile(t, e, "worker", "/tollgate/")
	var ctl struct{ Arn string }
	if st := postJSON(t, e.url+"/_sim/instance-profiles", `{"name":"lab"}`, &ctl); st != 200 || ctl.Arn != "arn:aws:iam::123456789012:instance-profile/lab" {
		t.Fatalf("POST /_sim/instance-profiles = %d %+v", st, ctl)
	}
	if st := postJSON(t, e.url+"/_sim/instance-profiles", `{}`, nil); st != 400 {
		t.Errorf("POST /_sim/instance-profiles without a name = %d, want 400", st)
	}
	for _, c := range []struct {
		opt     runOpt
		arn, id string
	}{
		{profile("worker", ""), aws.ToString(iamOut.Arn), aws.ToString(iamOut.InstanceProfileId)},
		{profile("", aws.ToString(iamOut.Arn)), aws.ToString(iamOut.Arn), aws.ToString(iamOut.InstanceProfileId)},
		{profile("lab", ""), ctl.Arn, ""},
	} {
		id := e.run(c.opt)[0]
		p := e.describe(id).IamInstanceProfile
		if p == nil || aws.ToString(p.Arn) != c.arn || !strings.HasPrefix(aws.ToString(p.Id), "AIPA") || (c.id != "" && aws.ToString(p.Id) != c.id) {
			t.Errorf("DescribeInstances profile %+v, want %s (%s)", p, c.arn, c.id)
		}
	}
	// The ARN must name the profile's path.
	_, err := e.west().RunInstances(e.ctx, runInput(profile("", "arn:aws:iam::123456789012:instance-profile/worker")))
	wantCode(t, err, "InvalidParameterValue", 400)
}

// createProfile creates an instance profile through the real IAM client.
func createProfile(t *testing.T, e *env, name, path string) *iamtypes.InstanceProfile {
	t.Helper()
	out, err := iam.NewFromConfig(e.cfg("us-east-1")).CreateInstanceProfile(e.ctx,
		&iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name), Path: aws.String(path)})
	if err != nil {
		t.Fatalf("CreateInstanceProfile: %v", err)
	}
	return out.InstanceProfile
}
