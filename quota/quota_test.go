package quota

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

func ptr[T any](v T) *T { return &v }

// basePolicy is the documented default policy.
func basePolicy() Policy {
	return Policy{
		MaxInstances:    2,
		MaxVCPUs:        4,
		InstanceTypes:   []string{"t3.micro", "t3.small"},
		Images:          []string{"ami-0123456789abcdef0"},
		Regions:         []string{"us-west-2"},
		DefaultLifetime: 4 * time.Hour,
		MaxLifetime:     12 * time.Hour,
		ExpireAction:    ActionStop,
		ExpireWarning:   15 * time.Minute,
		BudgetUSD:       50,
		BudgetPeriod:    PeriodMonth,
		BudgetAction:    ActionStop,
		Spot:            SpotAllowed,
		VolumeType:      "gp3",
	}
}

func TestMerge(t *testing.T) {
	base := basePolicy()
	t.Run("empty override changes nothing", func(t *testing.T) {
		got := Merge(base, Override{})
		if got.MaxInstances != 2 || got.MaxLifetime != 12*time.Hour || len(got.InstanceTypes) != 2 {
			t.Errorf("got %+v, want the base policy", got)
		}
	})
	t.Run("every field overrides", func(t *testing.T) {
		o := Override{
			MaxInstances: ptr(10), MaxVCPUs: ptr(40), MaxCount: ptr(3),
			InstanceTypes: []string{"c5.*"}, Images: []string{"ubuntu/*"}, Regions: []string{"eu-west-1"},
			DefaultLifetime: ptr(time.Hour), MaxLifetime: ptr(48 * time.Hour), ExpireAction: ptr(ActionTerminate),
			ExpireWarning: ptr(time.Minute), BudgetUSD: ptr(0.0), BudgetPeriod: ptr(PeriodTerm),
			BudgetAction: ptr(ActionNotify), Spot: ptr(SpotRequired), SecurityGroups: []string{"sg-1"},
			Subnet: ptr("subnet-1"), InstanceProfile: ptr("prof"), VolumeSizeGB: ptr(30), VolumeType: ptr("io2"),
		}
		got := Merge(base, o)
		want := Policy{
			MaxInstances: 10, MaxVCPUs: 40, MaxCount: 3,
			InstanceTypes: []string{"c5.*"}, Images: []string{"ubuntu/*"}, Regions: []string{"eu-west-1"},
			DefaultLifetime: time.Hour, MaxLifetime: 48 * time.Hour, ExpireAction: ActionTerminate,
			ExpireWarning: time.Minute, BudgetUSD: 0, BudgetPeriod: PeriodTerm, BudgetAction: ActionNotify,
			Spot: SpotRequired, SecurityGroups: []string{"sg-1"}, Subnet: "subnet-1", InstanceProfile: "prof",
			VolumeSizeGB: 30, VolumeType: "io2",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("empty list replaces", func(t *testing.T) {
		got := Merge(base, Override{Regions: []string{}})
		if got.Regions == nil || len(got.Regions) != 0 {
			t.Errorf("got regions %v, want empty", got.Regions)
		}
	})
	t.Run("lists are copied", func(t *testing.T) {
		o := Override{InstanceTypes: []string{"t3.nano"}}
		got := Merge(base, o)
		o.InstanceTypes[0] = "x"
		if got.InstanceTypes[0] != "t3.nano" {
			t.Errorf("got %v, merge aliases the override's list", got.InstanceTypes)
		}
	})
}

func TestEffective(t *testing.T) {
	def := basePolicy()
	groups := []Override{
		{MaxInstances: ptr(5), MaxVCPUs: ptr(10)},
		{MaxInstances: ptr(8)},
	}
	tests := []struct {
		name          string
		groups        []Override
		user          *Override
		wantInstances int
		wantVCPUs     int
	}{
		{"default only", nil, nil, 2, 4},
		{"later group wins", groups, nil, 8, 10},
		{"user wins over groups", groups, &Override{MaxInstances: ptr(1)}, 1, 10},
		{"empty user override", groups, &Override{}, 8, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Effective(def, tt.groups, tt.user)
			if got.MaxInstances != tt.wantInstances || got.MaxVCPUs != tt.wantVCPUs {
				t.Errorf("got max_instances %d max_vcpus %d, want %d %d", got.MaxInstances, got.MaxVCPUs, tt.wantInstances, tt.wantVCPUs)
			}
		})
	}
	t.Run("does not alias the default", func(t *testing.T) {
		got := Effective(def, nil, nil)
		got.Regions[0] = "changed"
		if def.Regions[0] != "us-west-2" {
			t.Errorf("Effective aliases the default's lists")
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Policy)
		wantKey string
		wantMsg string
	}{
		{"valid", func(*Policy) {}, "", ""},
		{"negative max_instances", func(p *Policy) { p.MaxInstances = -1 }, "max_instances", "-1 is negative"},
		{"negative max_vcpus", func(p *Policy) { p.MaxVCPUs = -2 }, "max_vcpus", "-2 is negative"},
		{"negative max_count", func(p *Policy) { p.MaxCount = -1 }, "max_count", "negative"},
		{"negative volume size", func(p *Policy) { p.VolumeSizeGB = -1 }, "volume_size_gb", "negative"},
		{"no instance types", func(p *Policy) { p.InstanceTypes = nil }, "instance_types", "is empty"},
		{"empty instance type", func(p *Policy) { p.InstanceTypes = []string{" "} }, "instance_types", "empty value"},
		{"bad pattern", func(p *Policy) { p.InstanceTypes = []string{"t3.[a"} }, "instance_types", "not a valid pattern"},
		{"no images", func(p *Policy) { p.Images = []string{} }, "images", "is empty"},
		{"no regions", func(p *Policy) { p.Regions = nil }, "regions", "is empty"},
		{"empty region", func(p *Policy) { p.Regions = []string{""} }, "regions", "empty value"},
		{"default lifetime zero", func(p *Policy) { p.DefaultLifetime = 0 }, "default_lifetime", "shorter than 1m"},
		{"default lifetime seconds", func(p *Policy) { p.DefaultLifetime = 90 * time.Second }, "default_lifetime", "not whole minutes"},
		{"max lifetime short", func(p *Policy) { p.MaxLifetime = 30 * time.Second }, "max_lifetime", "shorter than 1m"},
		{"default beyond max", func(p *Policy) { p.DefaultLifetime = 24 * time.Hour }, "default_lifetime", "24h is longer than max_lifetime 12h"},
		{"negative warning", func(p *Policy) { p.ExpireWarning = -time.Minute }, "expire_warning", "negative"},
		{"warning seconds", func(p *Policy) { p.ExpireWarning = 30 * time.Second }, "expire_warning", "not whole minutes"},
		{"negative budget", func(p *Policy) { p.BudgetUSD = -1 }, "budget_usd", "not an amount"},
		{"bad expire action", func(p *Policy) { p.ExpireAction = "notify" }, "expire_action", `"notify" is not one of stop, terminate`},
		{"bad budget action", func(p *Policy) { p.BudgetAction = "" }, "budget_action", "is not one of"},
		{"bad period", func(p *Policy) { p.BudgetPeriod = "year" }, "budget_period", `"year" is not one of term, month, week`},
		{"bad spot", func(p *Policy) { p.Spot = "yes" }, "spot", `"yes" is not one of allowed, required, forbidden`},
		{"bad volume type", func(p *Policy) { p.VolumeType = "ssd" }, "volume_type", "is not one of"},
		{"empty volume type is fine", func(p *Policy) { p.VolumeType = "" }, "", ""},
		{"empty security group", func(p *Policy) { p.SecurityGroups = []string{""} }, "security_groups", "empty value"},
		{"image owners", func(p *Policy) { p.ImageOwners = []string{"self", "amazon", "aws-marketplace", "099720109477"} }, "", ""},
		{"image owner alias unknown", func(p *Policy) { p.ImageOwners = []string{"canonical"} }, "image_owners", `"canonical" is not an image owner`},
		{"image owner id short", func(p *Policy) { p.ImageOwners = []string{"09972010947"} }, "image_owners", "12-digit account id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			tt.edit(&p)
			err := p.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %s: %s", tt.wantKey, tt.wantMsg)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T, want a *FieldError", err)
			}
			if fe.Key != tt.wantKey || !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("got %q, want key %s and %q", err, tt.wantKey, tt.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), tt.wantKey+": ") {
				t.Errorf("got %q, want it to start with the key", err)
			}
		})
	}
	t.Run("reports every problem", func(t *testing.T) {
		p := basePolicy()
		p.MaxInstances, p.Spot = -1, "x"
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), "max_instances") || !strings.Contains(err.Error(), "spot") {
			t.Errorf("got %v, want both max_instances and spot", err)
		}
	})
	t.Run("related key on default vs max", func(t *testing.T) {
		p := basePolicy()
		p.DefaultLifetime = 13 * time.Hour
		var fe *FieldError
		if err := p.Validate(); !errors.As(err, &fe) || fe.Related != "max_lifetime" {
			t.Errorf("got %#v, want Related max_lifetime", fe)
		}
	})
}

func TestAdmit(t *testing.T) {
	price := Price{HourlyUSD: 0.0104, VCPUs: 2}
	tests := []struct {
		name      string
		edit      func(*Policy)
		req       Request
		usage     Usage
		price     *Price
		wantCode  string
		wantLimit string
		wantMsg   string
		check     func(t *testing.T, d Decision)
	}{
		{
			name: "defaults filled",
			req:  Request{},
			check: func(t *testing.T, d Decision) {
				r := d.Request
				if r.Region != "us-west-2" || r.Count != 1 || r.Lifetime != 4*time.Hour || r.Type != "t3.micro" || r.Image != "ami-0123456789abcdef0" {
					t.Errorf("got %+v, want defaults filled", r)
				}
				if want := 0.0104 * 4; !near(d.ProjectedUSD, want) {
					t.Errorf("got projected %v, want %v", d.ProjectedUSD, want)
				}
			},
		},
		{
			name: "default image skips name patterns",
			edit: func(p *Policy) { p.Images = []string{"ubuntu/*", "ami-abcdef01"} },
			check: func(t *testing.T, d Decision) {
				if d.Request.Image != "ami-abcdef01" {
					t.Errorf("got image %q, want ami-abcdef01", d.Request.Image)
				}
			},
		},
		{
			name:      "no default image",
			edit:      func(p *Policy) { p.Images = []string{"ubuntu/*"} },
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "images",
			wantMsg:   "no image given and images lists no ami id to default to (images: ubuntu/*)",
		},
		{
			name:      "region not allowed",
			req:       Request{Region: "eu-west-1"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "regions",
			wantMsg:   `region "eu-west-1" is not allowed (regions: us-west-2)`,
		},
		{
			name:      "no region at all",
			edit:      func(p *Policy) { p.Regions = nil },
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "regions",
			wantMsg:   "no region allowed",
		},
		{
			name:      "type not allowed",
			req:       Request{Type: "m5.large"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "instance_types",
			wantMsg:   `instance type "m5.large" is not allowed (instance_types: t3.micro, t3.small)`,
		},
		{
			name: "type pattern",
			edit: func(p *Policy) { p.InstanceTypes = []string{"t3.*"} },
			req:  Request{Type: "t3.large"},
			check: func(t *testing.T, d Decision) {
				if d.Request.Type != "t3.large" {
					t.Errorf("got type %q", d.Request.Type)
				}
			},
		},
		{
			name:      "type pattern gives no default",
			edit:      func(p *Policy) { p.InstanceTypes = []string{"t3.*"} },
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "instance_types",
			wantMsg:   "no instance type given (instance_types: t3.*)",
		},
		{
			name:      "image not allowed",
			req:       Request{Image: "ami-ffffffff"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "images",
			wantMsg:   `image "ami-ffffffff" is not allowed (images: ami-0123456789abcdef0)`,
		},
		{
			name: "image by name pattern",
			edit: func(p *Policy) { p.Images = []string{"ubuntu/*jammy*"} },
			req:  Request{Image: "ami-12345678", ImageName: "ubuntu/images/jammy-22.04"},
		},
		{
			name: "image name pattern spans slashes",
			edit: func(p *Policy) { p.Images = []string{"ubuntu/*jammy*"} },
			req:  Request{Image: "ami-12345678", ImageName: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240301"},
		},
		{
			name:      "image name without a pattern",
			edit:      func(p *Policy) { p.Images = []string{"ubuntu/*jammy*"} },
			req:       Request{Image: "ami-12345678"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "images",
			wantMsg:   `image "ami-12345678" is not allowed`,
		},
		{
			name: "image name listed exactly",
			edit: func(p *Policy) { p.Images = []string{"my-image"} },
			req:  Request{Image: "ami-12345678", ImageName: "my-image"},
		},
		{
			name:      "image name does not match",
			edit:      func(p *Policy) { p.Images = []string{"ubuntu/*jammy*"} },
			req:       Request{Image: "ami-12345678", ImageName: "debian-12"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "images",
			wantMsg:   `image "ami-12345678" (named "debian-12") is not allowed (images: ubuntu/*jammy*)`,
		},
		{
			name:      "negative count",
			req:       Request{Count: -1},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "count",
			wantMsg:   "count must be at least 1: you asked for -1",
		},
		{
			name:      "count beyond max_instances",
			req:       Request{Count: 3},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_instances",
			wantMsg:   "max_instances is 2 per launch: you asked for 3 instances",
		},
		{
			name:      "count beyond max_count",
			edit:      func(p *Policy) { p.MaxCount = 1 },
			req:       Request{Count: 2},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_count",
			wantMsg:   "max_count is 1 per launch: you asked for 2 instances",
		},
		{
			name:      "lifetime under a minute",
			req:       Request{Lifetime: 30 * time.Second},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "lifetime",
			wantMsg:   "lifetime must be at least 1m: you asked for 30s",
		},
		{
			name:      "negative lifetime",
			req:       Request{Lifetime: -time.Hour},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "lifetime",
			wantMsg:   "at least 1m",
		},
		{
			name:      "lifetime not whole minutes",
			req:       Request{Lifetime: 90 * time.Second},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "lifetime",
			wantMsg:   "lifetime must be whole minutes: you asked for 1m30s",
		},
		{
			name:      "lifetime beyond max",
			req:       Request{Lifetime: 24 * time.Hour},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_lifetime",
			wantMsg:   "max_lifetime is 12h: you asked for a lifetime of 24h",
		},
		{
			name:      "spot required",
			edit:      func(p *Policy) { p.Spot = SpotRequired },
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "spot",
			wantMsg:   `spot is "required": you asked for an on-demand instance`,
		},
		{
			name: "spot required and given",
			edit: func(p *Policy) { p.Spot = SpotRequired },
			req:  Request{Spot: true},
		},
		{
			name:      "spot forbidden",
			edit:      func(p *Policy) { p.Spot = SpotForbidden },
			req:       Request{Spot: true},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "spot",
			wantMsg:   `spot is "forbidden": you asked for a spot instance`,
		},
		{
			name:      "user-data too large",
			req:       Request{UserData: MaxUserData + 1},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "user_data",
			wantMsg:   "user-data is limited to 16384 bytes: yours is 16385 bytes",
		},
		{
			name: "user-data at the limit",
			req:  Request{UserData: MaxUserData},
		},
		{
			name:      "name too long",
			req:       Request{Name: strings.Repeat("é", 129)},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "name",
			wantMsg:   "name is limited to 128 characters: yours has 129",
		},
		{
			name: "name of 128 characters",
			req:  Request{Name: strings.Repeat("é", 128)},
		},
		{
			name:      "name not printable",
			req:       Request{Name: "a\nb"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "name",
			wantMsg:   "not printable",
		},
		{
			name:      "name not utf-8",
			req:       Request{Name: "a\xffb"},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "name",
			wantMsg:   "not printable",
		},
		{
			name:      "max_instances",
			usage:     Usage{Instances: 2},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_instances",
			wantMsg:   "max_instances is 2: you have 2 non-terminated instances and asked for 1 more",
		},
		{
			name:      "max_instances with one held",
			usage:     Usage{Instances: 1},
			req:       Request{Count: 2},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_instances",
			wantMsg:   "max_instances is 2: you have 1 non-terminated instance and asked for 2 more",
		},
		{
			name:      "max_vcpus",
			usage:     Usage{Instances: 0, VCPUs: 2},
			req:       Request{Count: 2},
			wantCode:  tollgate.CodeQuotaExceeded,
			wantLimit: "max_vcpus",
			wantMsg:   "max_vcpus is 4: your pending and running instances have 2 vCPUs and you asked for 4 more (2 × t3.micro with 2)",
		},
		{
			name:  "vcpus exactly at the limit",
			usage: Usage{VCPUs: 2},
		},
		{
			name:      "budget exhausted",
			usage:     Usage{SpentUSD: 45, CommittedUSD: 3},
			price:     &Price{HourlyUSD: 1, VCPUs: 2},
			wantCode:  tollgate.CodeBudgetExhausted,
			wantLimit: "budget_usd",
			wantMsg:   "budget_usd is $50.00 per month: you have spent $45.00, running leases commit $3.00 more and this launch would cost $4.00 (total $52.00)",
		},
		{
			name:  "budget exactly reached",
			usage: Usage{SpentUSD: 45.1, CommittedUSD: 0.9},
			price: &Price{HourlyUSD: 1, VCPUs: 2},
		},
		{
			name:  "no budget",
			edit:  func(p *Policy) { p.BudgetUSD = 0 },
			usage: Usage{SpentUSD: 1000},
		},
		{
			name:      "first failing check wins",
			req:       Request{Region: "eu-west-1", Type: "m5.large"},
			usage:     Usage{Instances: 9},
			wantCode:  tollgate.CodeInvalidRequest,
			wantLimit: "regions",
			wantMsg:   "region",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			if tt.edit != nil {
				tt.edit(&p)
			}
			pr := price
			if tt.price != nil {
				pr = *tt.price
			}
			d, r := Admit(p, tt.req, tt.usage, pr)
			if tt.wantCode == "" {
				if r != nil {
					t.Fatalf("got refusal %+v, want admission", r)
				}
				if tt.check != nil {
					tt.check(t, d)
				}
				return
			}
			if r == nil {
				t.Fatalf("got admission %+v, want %s refusal", d, tt.wantCode)
			}
			if r.Code != tt.wantCode || r.Limit != tt.wantLimit || !strings.Contains(r.Message, tt.wantMsg) {
				t.Errorf("got %s/%s %q\nwant %s/%s containing %q", r.Code, r.Limit, r.Message, tt.wantCode, tt.wantLimit, tt.wantMsg)
			}
			if r.Error() != r.Message {
				t.Errorf("got Error() %q, want the message", r.Error())
			}
		})
	}
}

func TestExtend(t *testing.T) {
	launched := time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC)
	p := basePolicy()
	tests := []struct {
		name      string
		expires   time.Time
		d         time.Duration
		want      time.Time
		wantLimit string
		wantMsg   string
	}{
		{"within max", launched.Add(4 * time.Hour), 4 * time.Hour, launched.Add(8 * time.Hour), "", ""},
		{"up to max", launched.Add(4 * time.Hour), 8 * time.Hour, launched.Add(12 * time.Hour), "", ""},
		{"beyond max", launched.Add(10 * time.Hour), 4 * time.Hour, time.Time{}, "max_lifetime",
			"max_lifetime is 12h: the lease already runs 10h from launch and you asked for 4h more"},
		{"too short", launched.Add(time.Hour), 30 * time.Second, time.Time{}, "lifetime", "at least 1m: you asked for 30s"},
		{"negative", launched.Add(time.Hour), -time.Hour, time.Time{}, "lifetime", "at least 1m"},
		{"not whole minutes", launched.Add(time.Hour), 61 * time.Second, time.Time{}, "lifetime", "whole minutes: you asked for 1m1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, r := Extend(p, launched, tt.expires, tt.d)
			if tt.wantLimit == "" {
				if r != nil {
					t.Fatalf("got refusal %q", r)
				}
				if !got.Equal(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				return
			}
			if r == nil || r.Limit != tt.wantLimit || !strings.Contains(r.Message, tt.wantMsg) {
				t.Fatalf("got %+v, want %s refusal containing %q", r, tt.wantLimit, tt.wantMsg)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"4h", 4 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"2d", 48 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1m", time.Minute, ""},
		{"0", 0, ""},
		{"0m", 0, ""},
		{"120s", 2 * time.Minute, ""},
		{"4h0m0s", 4 * time.Hour, ""},
		{" 4h ", 4 * time.Hour, ""},
		{"+4h", 4 * time.Hour, ""},
		{"", 0, "empty duration"},
		{"12x", 0, `"12x" is not a duration`},
		{"h", 0, "is not a duration"},
		{"4", 0, "without a unit"},
		{"-1h", 0, "is negative"},
		{"1.5h", 0, "has a fraction"},
		{"90s", 0, "finer than a minute"},
		{"100ms", 0, "finer than a minute"},
		{"1h 30m", 0, "is not a duration"},
		{"99999999999999999999d", 0, "too long"},
		{"200000d", 0, "too long"},
		{"106751d", 106751 * Day, ""},
		{"106752d", 0, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "e.g. 4h") && !strings.Contains(err.Error(), "too long") {
					t.Errorf("got %q, want it to say what is allowed", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0m"},
		{4 * time.Hour, "4h"},
		{90 * time.Minute, "1h30m"},
		{36 * time.Hour, "36h"},
		{52 * time.Hour, "2d4h"},
		{90 * time.Second, "1m30s"},
		{-time.Hour, "-1h"},
		{time.Millisecond, "1000000ns"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatDuration(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPeriodStart(t *testing.T) {
	term := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	// Wednesday 2026-03-04 15:04 in UTC-8 is Wednesday 23:04 UTC.
	pst := time.FixedZone("PST", -8*3600)
	tests := []struct {
		name    string
		period  string
		now     time.Time
		term    time.Time
		want    time.Time
		wantErr string
	}{
		{"month", PeriodMonth, time.Date(2026, 3, 4, 15, 4, 0, 0, pst), time.Time{}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"month in UTC", PeriodMonth, time.Date(2026, 2, 28, 20, 0, 0, 0, pst), time.Time{}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"week midweek", PeriodWeek, time.Date(2026, 3, 4, 15, 4, 0, 0, pst), time.Time{}, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"week on Monday", PeriodWeek, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Time{}, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"week on Sunday", PeriodWeek, time.Date(2026, 3, 8, 23, 59, 0, 0, time.UTC), time.Time{}, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"week across a month", PeriodWeek, time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), time.Time{}, time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), ""},
		{"term", PeriodTerm, time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), term, term, ""},
		{"term unset", PeriodTerm, time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, "term start is not set"},
		{"unknown", "year", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, `"year" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PeriodStart(tt.period, tt.now, tt.term)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestIsAMIID(t *testing.T) {
	for in, want := range map[string]bool{
		"ami-0123456789abcdef0": true,
		"ami-12345678":          true,
		"ami-1234567":           false,
		"ami-ABCDEF01":          false,
		"ubuntu/*":              false,
		"ami-*":                 false,
	} {
		t.Run(in, func(t *testing.T) {
			if got := IsAMIID(in); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"4h", "90m", "1h30m", "2d", "0", "-1h", "90s", "1.5h", "12x", "", "4h0m0s", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Errorf("ParseDuration(%q) = %v with error %v, want 0", s, d, err)
			}
			return
		}
		if d < 0 || d%time.Minute != 0 {
			t.Errorf("ParseDuration(%q) = %v, want whole non-negative minutes", s, d)
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Errorf("round trip of %q: FormatDuration(%v) = %q parses to %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func TestWithDefaults(t *testing.T) {
	p := Policy{Regions: []string{"us-west-2", "us-east-1"}, InstanceTypes: []string{"t3.micro"},
		Images: []string{"ubuntu/*", "ami-0123456789abcdef0"}, DefaultLifetime: 4 * time.Hour}
	tests := []struct {
		name string
		p    Policy
		req  Request
		want Request
	}{
		{name: "all filled", p: p, req: Request{},
			want: Request{Region: "us-west-2", Count: 1, Lifetime: 4 * time.Hour, Type: "t3.micro", Image: "ami-0123456789abcdef0"}},
		{name: "choices kept", p: p, req: Request{Region: "us-east-1", Count: 3, Lifetime: time.Hour, Type: "t3.small", Image: "ubuntu/x"},
			want: Request{Region: "us-east-1", Count: 3, Lifetime: time.Hour, Type: "t3.small", Image: "ubuntu/x"}},
		{name: "negative count kept for Admit to refuse", p: p, req: Request{Count: -1},
			want: Request{Region: "us-west-2", Count: -1, Lifetime: 4 * time.Hour, Type: "t3.micro", Image: "ami-0123456789abcdef0"}},
		{name: "type pattern is no default", p: Policy{InstanceTypes: []string{"t3.*"}}, req: Request{},
			want: Request{Count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WithDefaults(tt.p, tt.req); got != tt.want {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestOverrideMatchesPolicy: every policy key can be overridden, under the same JSON and
// TOML names, and Merge applies every field of an override.
func TestOverrideMatchesPolicy(t *testing.T) {
	pt, ot := reflect.TypeFor[Policy](), reflect.TypeFor[Override]()
	if pt.NumField() != ot.NumField() {
		t.Fatalf("Policy has %d fields, Override %d", pt.NumField(), ot.NumField())
	}
	var o Override
	ov := reflect.ValueOf(&o).Elem()
	for i := range pt.NumField() {
		pf, of := pt.Field(i), ot.Field(i)
		t.Run(pf.Name, func(t *testing.T) {
			if of.Name != pf.Name {
				t.Fatalf("Override field %d is %s, want %s", i, of.Name, pf.Name)
			}
			name := func(f reflect.StructField, tag string) string { n, _, _ := strings.Cut(f.Tag.Get(tag), ","); return n }
			for _, tag := range []string{"json", "toml", "format"} {
				if got, want := name(of, tag), name(pf, tag); got != want {
					t.Errorf("%s tag: got %q, want %q", tag, got, want)
				}
			}
		})
		// A non-zero value of the Policy field's type.
		v := reflect.New(pf.Type).Elem()
		switch pf.Type.Kind() {
		case reflect.Slice:
			v = reflect.Append(v, reflect.ValueOf("x").Convert(pf.Type.Elem()))
		case reflect.String:
			v.SetString("x")
		case reflect.Float64:
			v.SetFloat(1e6)
		default:
			v.SetInt(1e6)
		}
		if of.Type.Kind() == reflect.Pointer {
			p := reflect.New(pf.Type)
			p.Elem().Set(v)
			v = p
		}
		ov.Field(i).Set(v)
	}
	got := reflect.ValueOf(Merge(Policy{}, o))
	for i := range pt.NumField() {
		if got.Field(i).IsZero() {
			t.Errorf("Merge does not apply Override.%s", pt.Field(i).Name)
		}
	}
}
