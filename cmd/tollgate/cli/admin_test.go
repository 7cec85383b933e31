package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-03-01", want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-01T09:30:00Z", want: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "2d", want: now.Add(-48 * time.Hour)},
		{in: "1d6h", want: now.Add(-30 * time.Hour)},
		{in: "yesterday", wantErr: true},
		{in: "30s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWhen(tt.in, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseWhen(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseWhen(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestUsersSetOverride(t *testing.T) {
	four := 4
	budget := 80.0
	c := AdminUsersSetCmd{User: "alice", MaxInstances: &four, BudgetUSD: &budget, MaxLifetime: "1d"}
	o, err := c.override()
	if err != nil {
		t.Fatalf("override() error = %v", err)
	}
	if o.MaxInstances == nil || *o.MaxInstances != 4 || o.BudgetUSD == nil || *o.BudgetUSD != 80 {
		t.Errorf("override() = %+v, want max_instances 4 and budget_usd 80", o)
	}
	if o.MaxLifetime == nil || *o.MaxLifetime != 24*time.Hour {
		t.Errorf("override().MaxLifetime = %v, want 24h", o.MaxLifetime)
	}
	if o.MaxVCPUs != nil || o.DefaultLifetime != nil {
		t.Errorf("override() set fields not given: %+v", o)
	}
	if _, err := (&AdminUsersSetCmd{User: "bob", MaxLifetime: "soon"}).override(); err == nil {
		t.Errorf("override() with --max-lifetime soon: no error")
	}
	if _, err := (&AdminUsersSetCmd{User: "bob"}).override(); err == nil {
		t.Errorf("override() with nothing to do: no error")
	}
	o, err = (&AdminUsersSetCmd{User: "bob", Clear: []string{"max_instances"}}).override()
	if err != nil || !reflect.ValueOf(o).IsZero() {
		t.Errorf("override() with only --clear = %+v, %v; want empty, nil", o, err)
	}
}

func TestSSHArgv(t *testing.T) {
	tests := []struct {
		name string
		cmd  SSHCmd
		want string
	}{
		{name: "shell", cmd: SSHCmd{ID: "i-1", Login: "ubuntu"},
			want: "ssh -i /h/.ssh/tollgate_ed25519 -o IdentitiesOnly=yes -l ubuntu 203.0.113.9"},
		{name: "command after --", cmd: SSHCmd{ID: "i-1", Login: "ec2-user", Cmd: []string{"--", "uname", "-a"}},
			want: "ssh -i /h/.ssh/tollgate_ed25519 -o IdentitiesOnly=yes -l ec2-user 203.0.113.9 -- uname -a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.cmd.argv("/h", "203.0.113.9"), " "); got != tt.want {
				t.Errorf("argv() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRelTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{name: "zero", t: time.Time{}, want: "-"},
		{name: "future", t: now.Add(3*time.Hour + 12*time.Minute), want: "in 3h12m"},
		{name: "past", t: now.Add(-5 * time.Minute), want: "5m ago"},
		{name: "days", t: now.Add(50 * time.Hour), want: "in 2d2h"},
		{name: "now", t: now.Add(10 * time.Second), want: "now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relTime(tt.t, now); got != tt.want {
				t.Errorf("relTime() = %q, want %q", got, tt.want)
			}
		})
	}
}
