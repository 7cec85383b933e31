package quota

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

func TestAdmitStart(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	micro := func(id string, left time.Duration) Lease {
		return Lease{ID: id, Type: "t3.micro", VCPUs: 2, HourlyUSD: 1, ExpiresAt: now.Add(left)}
	}
	tests := []struct {
		name   string
		budget float64
		usage  Usage
		start  []Lease
		limit  string // "" = admitted
		code   string
		msg    string
	}{
		{"within limits", 50, Usage{VCPUs: 2, SpentUSD: 1, CommittedUSD: 2}, []Lease{micro("i-1", time.Hour)}, "", "", ""},
		{"exactly at max_vcpus", 50, Usage{VCPUs: 2}, []Lease{micro("i-1", time.Hour)}, "", "", ""},
		{"over max_vcpus", 50, Usage{VCPUs: 4}, []Lease{micro("i-1", time.Hour)}, "max_vcpus", tollgate.CodeQuotaExceeded,
			"max_vcpus is 4: your pending and running instances have 4 vCPUs and starting i-1 needs 2 more"},
		{"two starts over max_vcpus", 50, Usage{VCPUs: 2}, []Lease{micro("i-1", time.Hour), micro("i-2", time.Hour)}, "max_vcpus", tollgate.CodeQuotaExceeded,
			"starting i-1, i-2 needs 4 more"},
		{"expired lease", 50, Usage{}, []Lease{micro("i-1", time.Hour), micro("i-2", 0)}, "lease", tollgate.CodeQuotaExceeded,
			"the lease of i-2 expired at 2025-03-10T12:00:00Z: extend it first"},
		{"remaining lease crosses the budget", 10, Usage{SpentUSD: 4, CommittedUSD: 4}, []Lease{micro("i-1", 3*time.Hour)}, "budget_usd", tollgate.CodeBudgetExhausted,
			"you have spent $4.00, your other leases commit $4.00 more and the remaining leases of i-1 would cost $3.00 (total $11.00)"},
		{"remaining lease lands on the budget", 10, Usage{SpentUSD: 4, CommittedUSD: 3}, []Lease{micro("i-1", 3*time.Hour)}, "", "", ""},
		{"budget spent", 10, Usage{SpentUSD: 10}, []Lease{micro("i-1", time.Minute)}, "budget_usd", tollgate.CodeBudgetExhausted,
			"you have spent $10.00: nothing may be started"},
		{"no budget", 0, Usage{SpentUSD: 1000}, []Lease{micro("i-1", 100*time.Hour)}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			p.BudgetUSD = tt.budget
			ref := AdmitStart(p, tt.usage, tt.start, now)
			if tt.limit == "" {
				if ref != nil {
					t.Fatalf("got refusal %q, want admitted", ref.Message)
				}
				return
			}
			if ref == nil {
				t.Fatalf("got admitted, want a %s refusal", tt.limit)
			}
			if ref.Limit != tt.limit || ref.Code != tt.code {
				t.Errorf("got limit %s code %s, want %s %s", ref.Limit, ref.Code, tt.limit, tt.code)
			}
			if !strings.Contains(ref.Message, tt.msg) {
				t.Errorf("got %q, want it to contain %q", ref.Message, tt.msg)
			}
		})
	}
}

func TestAdmitExtend(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	launched := now.Add(-time.Hour)
	lease := Lease{ID: "i-1", Type: "t3.micro", VCPUs: 2, HourlyUSD: 1, ExpiresAt: now.Add(time.Hour)}
	expired := lease
	expired.ExpiresAt = now.Add(-30 * time.Minute)
	tests := []struct {
		name    string
		budget  float64
		usage   Usage // includes the lease's own remaining cost
		lease   Lease
		d       time.Duration
		want    time.Time
		limit   string
		wantMsg string
	}{
		{"within budget", 10, Usage{SpentUSD: 1, CommittedUSD: 1}, lease, 2 * time.Hour, now.Add(3 * time.Hour), "", ""},
		{"lands on the budget", 10, Usage{SpentUSD: 7, CommittedUSD: 1}, lease, 2 * time.Hour, now.Add(3 * time.Hour), "", ""},
		{"crosses the budget", 10, Usage{SpentUSD: 8, CommittedUSD: 1}, lease, 2 * time.Hour, time.Time{}, "budget_usd",
			"extending i-1 by 2h would add $2.00 (total $11.00)"},
		{"expired lease counts only the part after now", 10, Usage{SpentUSD: 9}, expired, time.Hour, now.Add(30 * time.Minute), "", ""},
		{"beyond max_lifetime first", 10, Usage{}, lease, 11 * time.Hour, time.Time{}, "max_lifetime", "max_lifetime is 12h"},
		{"no budget", 0, Usage{SpentUSD: 100}, lease, 10 * time.Hour, now.Add(11 * time.Hour), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			p.BudgetUSD = tt.budget
			got, ref := AdmitExtend(p, tt.usage, tt.lease, launched, tt.d, now)
			if tt.limit == "" {
				if ref != nil {
					t.Fatalf("got refusal %q, want admitted", ref.Message)
				}
				if !got.Equal(tt.want) {
					t.Errorf("got expiry %v, want %v", got, tt.want)
				}
				return
			}
			if ref == nil || ref.Limit != tt.limit {
				t.Fatalf("got %v, want a %s refusal", ref, tt.limit)
			}
			if tt.limit == "budget_usd" && ref.Code != tollgate.CodeBudgetExhausted {
				t.Errorf("got code %s, want %s", ref.Code, tollgate.CodeBudgetExhausted)
			}
			if !strings.Contains(ref.Message, tt.wantMsg) {
				t.Errorf("got %q, want it to contain %q", ref.Message, tt.wantMsg)
			}
		})
	}
}

func TestImageOwners(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		ov   []string
		want []string
	}{
		{"unset is the default", nil, nil, []string{"self", "amazon"}},
		{"set", []string{"self"}, nil, []string{"self"}},
		{"overridden", []string{"self"}, []string{"amazon", "099720109477"}, []string{"amazon", "099720109477"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			p.ImageOwners = tt.set
			got := Merge(p, Override{ImageOwners: tt.ov}).Owners()
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
