package awssim_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func metadata(o *types.InstanceMetadataOptionsRequest) runOpt {
	return func(in *ec2.RunInstancesInput) { in.MetadataOptions = o }
}

// TestMetadataOptions: RunInstances' MetadataOptions are recorded, returned by
// DescribeInstances and shown in the ground truth; values EC2 refuses are refused.
func TestMetadataOptions(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name         string
		opts         *types.InstanceMetadataOptionsRequest
		wantTokens   string
		wantEndpoint string
		wantHops     int
		wantErr      string
	}{
		{"defaults", nil, "optional", "enabled", 1, ""},
		{"IMDSv2 only", &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired,
			HttpEndpoint: types.InstanceMetadataEndpointStateEnabled, HttpPutResponseHopLimit: aws.Int32(1)}, "required", "enabled", 1, ""},
		{"endpoint off", &types.InstanceMetadataOptionsRequest{HttpEndpoint: types.InstanceMetadataEndpointStateDisabled,
			HttpPutResponseHopLimit: aws.Int32(2)}, "optional", "disabled", 2, ""},
		{"bad tokens", &types.InstanceMetadataOptionsRequest{HttpTokens: "sometimes"}, "", "", 0, "InvalidParameterValue"},
		{"bad endpoint", &types.InstanceMetadataOptionsRequest{HttpEndpoint: "on"}, "", "", 0, "InvalidParameterValue"},
		{"bad hop limit", &types.InstanceMetadataOptionsRequest{HttpPutResponseHopLimit: aws.Int32(65)}, "", "", 0, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr != "" {
				_, err := e.west().RunInstances(e.ctx, runInput(metadata(tt.opts)))
				wantCode(t, err, tt.wantErr, 400)
				return
			}
			id := e.run(metadata(tt.opts))[0]
			got := e.describe(id).MetadataOptions
			if got == nil || string(got.HttpTokens) != tt.wantTokens || string(got.HttpEndpoint) != tt.wantEndpoint ||
				aws.ToInt32(got.HttpPutResponseHopLimit) != int32(tt.wantHops) {
				t.Errorf("got %+v, want tokens %s endpoint %s hops %d", got, tt.wantTokens, tt.wantEndpoint, tt.wantHops)
			}
			for _, in := range e.sim.Instances("") {
				if in.ID == id && (in.MetadataHTTPTokens != tt.wantTokens || in.MetadataHTTPEndpoint != tt.wantEndpoint || in.MetadataHopLimit != tt.wantHops) {
					t.Errorf("ground truth: got %s/%s/%d, want %s/%s/%d", in.MetadataHTTPTokens, in.MetadataHTTPEndpoint,
						in.MetadataHopLimit, tt.wantTokens, tt.wantEndpoint, tt.wantHops)
				}
			}
		})
	}
}
