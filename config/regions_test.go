package config

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/quota"
)

func TestAllRegions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "empty", cfg: Config{}, want: nil},
		{name: "aws only", cfg: Config{AWS: AWS{Regions: []string{"us-west-2"}}}, want: []string{"us-west-2"}},
		{
			name: "policies add regions once",
			cfg: Config{
				AWS: AWS{Regions: []string{"us-west-2"}},
				Policy: Policies{
					Default: quota.Policy{Regions: []string{"us-west-2", "us-east-1"}},
					Group: map[string]quota.Override{
						"b": {Regions: []string{"eu-west-1"}},
						"a": {Regions: []string{"ap-south-1", "us-east-1"}},
						"c": {Regions: []string{"", "sa-east-1"}},
					},
					GroupOrder: []string{"c", "b"},
				},
			},
			want: []string{"us-west-2", "us-east-1", "sa-east-1", "eu-west-1", "ap-south-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.AllRegions(); !slices.Equal(got, tt.want) {
				t.Errorf("AllRegions() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBrokerDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Broker
		want Broker
	}{
		{name: "empty", in: Broker{}, want: Default().Broker},
		{
			name: "set keys kept",
			in:   Broker{Socket: "/s", Database: "/d", AdminGroup: "g", SocketMode: 0o660, ReconcileInterval: 7, LogLevel: "debug"},
			want: Broker{Socket: "/s", Database: "/d", AdminGroup: "g", SocketMode: 0o660, ReconcileInterval: 7, LogLevel: "debug"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.Defaults()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Defaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
