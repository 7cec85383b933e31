package awssim_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
)

// knower is a mounted service that vouches for one access key, as an IAM that issued it.
type knower struct{ key string }

func (k knower) ServeQuery(w http.ResponseWriter, r *http.Request, service, region, akid, action string, form url.Values) {
	w.WriteHeader(http.StatusNotImplemented)
}
func (k knower) KnowsKey(id string) bool { return id == k.key }

// TestAccessKeyIDs is the review's finding #11: a simulator restricted to some access key
// ids refuses EC2 requests signed with any other.
func TestAccessKeyIDs(t *testing.T) {
	sim, u := simtest.Start(t, awssim.Options{AccessKeyIDs: []string{"AKIDDAEMON"}})
	sim.Mount("students", knower{key: "AKIDSTUDENT"})
	cfg := func(akid string) aws.Config {
		return aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(akid, "secret", ""),
			Retryer:     transportRetryer}
	}
	ctx := context.Background()
	tests := []struct {
		name string
		akid string
		want string // "" = served
	}{
		{"the daemon's key", "AKIDDAEMON", ""},
		{"a key a mounted service knows", "AKIDSTUDENT", ""},
		{"any other key", "AKIDOTHER", "AuthFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ec2.NewFromConfig(cfg(tt.akid)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			if tt.want == "" {
				if err != nil {
					t.Errorf("got %v, want served", err)
				}
				return
			}
			wantCode(t, err, tt.want, http.StatusUnauthorized)
		})
	}
	t.Run("STS keeps its own checks", func(t *testing.T) {
		// The account's STS accepts any caller here (iamsim's own rule); what matters is
		// that the EC2 restriction does not apply to it.
		if _, err := sts.NewFromConfig(cfg("AKIDOTHER")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			var code string
			code, _ = apiCode(err)
			if code == "AuthFailure" {
				t.Errorf("got %v, want STS not gated by the EC2 key list", err)
			}
		}
	})
	t.Run("unrestricted by default", func(t *testing.T) {
		_, u := simtest.Start(t, awssim.Options{})
		c := cfg("AKIDANY")
		c.BaseEndpoint = aws.String(u)
		if _, err := ec2.NewFromConfig(c).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Errorf("got %v, want served", err)
		}
	})
}
