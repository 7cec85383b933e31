package accounting

import (
	"errors"
	"strings"
	"testing"
)

// The regions and families the shipped table must cover.
var (
	shippedRegions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
		"eu-west-3", "ap-northeast-1", "ap-southeast-2", "sa-east-1"}
	shippedFamilies = []string{"t3", "t3a", "t4g", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "g4dn", "g5"}
)

func TestShippedTableCoverage(t *testing.T) {
	p, err := LoadPrices(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range shippedRegions {
		for _, f := range shippedFamilies {
			size := "large"
			if f == "g4dn" || f == "g5" {
				size = "xlarge"
			}
			typ := f + "." + size
			if f == "g5" && (r == "us-west-1" || r == "eu-west-3") {
				continue // not offered there: reported unpriced
			}
			if v, err := p.OnDemand(r, typ); err != nil || v <= 0 {
				t.Errorf("OnDemand(%s, %s): got %v, %v; want a price", r, typ, v, err)
			}
		}
	}
	if !strings.Contains(string(onDemandCSV), "Source:") || !strings.Contains(string(onDemandCSV), "Date:") {
		t.Error("the shipped table does not name its source and date")
	}
}

func TestPrices(t *testing.T) {
	p, err := LoadPrices(map[string]float64{"t3.micro/us-west-2": 0.5, "x9.huge/us-east-1": 1.25},
		map[string]float64{"gp3/sa-east-1": 0.152, "io2": 0.2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		region, typ  string
		want         float64
		wantUnpriced bool
	}{
		{"shipped", "us-east-1", "t3.micro", 0.0104, false},
		{"size ladder", "us-east-1", "m5.4xlarge", 0.768, false},
		{"override", "us-west-2", "t3.micro", 0.5, false},
		{"override of an unknown type", "us-east-1", "x9.huge", 1.25, false},
		{"unknown type", "us-east-1", "z1d.large", 0, true},
		{"family not in the region", "us-west-1", "g5.xlarge", 0, true},
		{"unknown region", "mars-north-1", "t3.micro", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.OnDemand(tt.region, tt.typ)
			if tt.wantUnpriced {
				if !errors.Is(err, ErrUnpriced) || !strings.Contains(err.Error(), tt.typ) {
					t.Errorf("OnDemand(%s, %s): got %v, %v; want an unpriced error naming the type", tt.region, tt.typ, got, err)
				}
				return
			}
			if err != nil || !near(got, tt.want, 1e-9) {
				t.Errorf("OnDemand(%s, %s): got %v, %v; want %v", tt.region, tt.typ, got, err, tt.want)
			}
		})
	}
	vt := []struct {
		name, region, typ string
		want              float64
	}{
		{"shipped gp3", "us-east-1", "gp3", 0.08},
		{"empty type is gp3", "us-east-1", "", 0.08},
		{"regional override", "sa-east-1", "gp3", 0.152},
		{"type override", "eu-west-1", "io2", 0.2},
	}
	for _, tt := range vt {
		t.Run("volume "+tt.name, func(t *testing.T) {
			if got, err := p.Volume(tt.region, tt.typ); err != nil || !near(got, tt.want, 1e-9) {
				t.Errorf("Volume(%s, %s): got %v, %v; want %v", tt.region, tt.typ, got, err, tt.want)
			}
		})
	}
	cpu := []struct {
		typ  string
		want int
	}{{"t3.micro", 2}, {"m5.4xlarge", 16}, {"g5.xlarge", 4}, {"c5.9xlarge", 36}, {"x9.huge", 0}, {"m9.3xlarge", 12}}
	for _, tt := range cpu {
		t.Run("vcpus "+tt.typ, func(t *testing.T) {
			got, err := p.VCPUs(tt.typ)
			if got != tt.want || (tt.want == 0) != (err != nil) {
				t.Errorf("VCPUs(%s): got %d, %v; want %d", tt.typ, got, err, tt.want)
			}
		})
	}
}

func TestLoadPricesRejects(t *testing.T) {
	tests := []struct {
		name      string
		od, vol   map[string]float64
		wantInErr string
	}{
		{"no region", map[string]float64{"t3.micro": 1}, nil, "type/region"},
		{"negative", map[string]float64{"t3.micro/us-east-1": -1}, nil, "not a price"},
		{"negative volume", nil, map[string]float64{"gp3": -0.1}, "not a price"},
		{"empty volume type", nil, map[string]float64{"/us-east-1": 0.1}, "gp3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPrices(tt.od, tt.vol)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantInErr)
			}
		})
	}
}
