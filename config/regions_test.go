package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/balancer"
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

// A pool read from a GBrowse file scans the file's region (reconcile and the collector
// must look there) though the TOML names none.
func TestAllRegionsReadsAGBrowsePoolsRegion(t *testing.T) {
	b, err := os.ReadFile("../balancer/testdata/aws_balancer.conf")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "aws_balancer.conf")
	if err := os.WriteFile(path, bytes.Replace(b, []byte("us-west-2"), []byte("ap-south-1"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{AWS: AWS{Regions: []string{"us-east-1"}},
		Balancer: balancer.Config{Pools: []balancer.Pool{{Name: "gb", GBrowseConf: path}}}}
	if got := cfg.AllRegions(); !slices.Equal(got, []string{"us-east-1", "ap-south-1"}) {
		t.Errorf("AllRegions() = %v, want the GBrowse file's region too", got)
	}
}
