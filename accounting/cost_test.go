package accounting

import (
	"testing"
	"time"
)

func testCoster(t *testing.T, now int64) *coster {
	t.Helper()
	p, err := LoadPrices(map[string]float64{"t3.micro/test-1": 3.6}, map[string]float64{"gp3": 0.73})
	if err != nil {
		t.Fatal(err)
	}
	ss := spotSeries{}
	ss.add("test-1", "t3.micro", "test-1a", 0, 0.36)
	ss.add("test-1", "t3.micro", "test-1a", 1000, 0.72)
	ss.sort()
	return &coster{prices: p, spot: ss, now: now}
}

func TestPeriodCost(t *testing.T) {
	// 3.6 USD/h is 0.001 USD per second: costs read as billed seconds / 1000.
	c := testCoster(t, 10_000)
	od := func(start, end int64) costPeriod {
		return costPeriod{Region: "test-1", Type: "t3.micro", Start: start, End: end}
	}
	tests := []struct {
		name        string
		p           costPeriod
		from, until int64
		wantUSD     float64
		wantRun     int64
	}{
		{"per second", od(100, 400), 0, 10_000, 0.300, 300},
		{"60 s minimum", od(100, 110), 0, 10_000, 0.060, 10},
		{"minimum of a period just started", od(9_990, 0), 0, 10_000, 0.060, 10},
		{"running until now", od(4_000, 0), 0, 10_000, 6.000, 6_000},
		{"clipped to the window", od(100, 400), 200, 300, 0.100, 100},
		{"minimum reaching past the window end", od(100, 110), 0, 130, 0.030, 10},
		{"outside the window", od(100, 400), 500, 600, 0, 0},
		{"unknown type", costPeriod{Region: "test-1", Type: "z9.large", Start: 0, End: 100}, 0, 10_000, 0, 100},
		{"spot across a price change", costPeriod{Region: "test-1", Type: "t3.micro", AZ: "test-1a", Spot: true,
			Start: 500, End: 1500}, 0, 10_000, 0.05 + 0.1, 1000},
		{"spot before the first point", costPeriod{Region: "test-1", Type: "t3.micro", AZ: "test-1a", Spot: true,
			Start: 1500, End: 1600}, 0, 10_000, 0.02, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.period(tt.p, tt.from, tt.until)
			if !near(got.USD, tt.wantUSD, 1e-9) || got.RunSeconds != tt.wantRun {
				t.Errorf("got $%.6f, %ds; want $%.6f, %ds", got.USD, got.RunSeconds, tt.wantUSD, tt.wantRun)
			}
			if tt.p.Type == "z9.large" && !got.Unpriced {
				t.Error("unknown type not flagged unpriced")
			}
		})
	}
}

func TestCostIsAdditiveOverWindows(t *testing.T) {
	c := testCoster(t, 100_000)
	periods := []costPeriod{
		{Region: "test-1", Type: "t3.micro", Start: 100, End: 130},
		{Region: "test-1", Type: "t3.micro", Start: 5_000, End: 0},
		{Region: "test-1", Type: "t3.micro", AZ: "test-1a", Spot: true, Start: 10, End: 90_000},
	}
	for _, p := range periods {
		whole := c.period(p, 0, 100_000).USD
		split := 0.0
		for a := int64(0); a < 100_000; a += 7_777 {
			split += c.period(p, a, min(a+7_777, 100_000)).USD
		}
		if !near(whole, split, 1e-9) {
			t.Errorf("period %+v: whole window $%.9f, sum of windows $%.9f", p, whole, split)
		}
	}
}

func TestVolumeCost(t *testing.T) {
	c := testCoster(t, 0)
	month := int64(HoursPerMonth * time.Hour / time.Second)
	v := costVolume{Region: "test-1", Type: "gp3", SizeGB: 10, Start: 0, End: month}
	if got := c.volume(v, 0, month).USD; !near(got, 7.3, 1e-9) {
		t.Errorf("10 GB gp3 for a month at $0.73: got $%.6f, want $7.30", got)
	}
	v.Type = "magnetic-tape"
	if got := c.volume(v, 0, month); !got.Unpriced {
		t.Errorf("unknown volume type: got %+v, want unpriced", got)
	}
}

func TestParseReasonTime(t *testing.T) {
	tests := []struct {
		reason string
		want   string
		ok     bool
	}{
		{"User initiated (2026-01-05 13:04:05 GMT)", "2026-01-05T13:04:05Z", true},
		{"Service initiated (2025-12-31 23:59:59 GMT)", "2025-12-31T23:59:59Z", true},
		{"Server.SpotInstanceTermination: Spot instance termination", "", false},
		{"", "", false},
		{"User initiated (2026-13-45 99:00:00 GMT)", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got, ok := parseReasonTime(tt.reason)
			if ok != tt.ok || (ok && unixTime(got).Format(time.RFC3339) != tt.want) {
				t.Errorf("got %v %v, want %q %v", unixTime(got), ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseReasonTime(f *testing.F) {
	f.Add("User initiated (2026-01-05 13:04:05 GMT)")
	f.Add("(0000-00-00 00:00:00 GMT)")
	f.Fuzz(func(t *testing.T, s string) {
		if at, ok := parseReasonTime(s); ok && unixTime(at).Year() > 9999 {
			t.Errorf("%q parsed to %v", s, unixTime(at))
		}
	})
}

func TestParseUnix(t *testing.T) {
	tests := []string{"2026-01-05T13:04:05Z", "2026-01-05T13:04:05.123456789Z", "1999-12-31T23:59:59Z",
		"2026-02-30T00:00:00Z", "2026-01-05T13:04:05+02:00", "", "garbage"}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			var want int64
			if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
				want = tm.Unix()
			}
			if got := parseUnix(s); got != want {
				t.Errorf("parseUnix(%q): got %d, want %d", s, got, want)
			}
		})
	}
}
