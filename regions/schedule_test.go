package regions

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestCronAcrossDST: a daily run at 02:30 and at 01:30 runs exactly once on every day
// around both transitions: the nonexistent 02:30 of spring-forward at the end of the
// gap (03:00), the repeated 01:30 of fall-back at its first occurrence.
func TestCronAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		zone     string
		spring   time.Time // a day before spring-forward
		fall     time.Time // a day before fall-back
		gap, rep string    // the wall hour that does not exist / repeats
	}{
		{"America/New_York", time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), "02", "01"},
		{"Europe/Berlin", time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC), "02", "02"},
	} {
		loc := mustLoc(t, tc.zone)
		for _, spec := range []string{"30 " + tc.gap + " * * *", "30 " + tc.rep + " * * *", "0 " + tc.gap + " * * *"} {
			for _, start := range []time.Time{tc.spring, tc.fall} {
				t.Run(fmt.Sprintf("%s %s from %s", tc.zone, spec, start.Format("01-02")), func(t *testing.T) {
					p, err := NewPlan(Schedule{Cron: spec, TimeZone: tc.zone}, []string{"us-east-1"})
					if err != nil {
						t.Fatal(err)
					}
					slots := p.Between(start, start.Add(5*24*time.Hour))
					days := map[string]int{}
					for i, s := range slots {
						days[s.At.In(loc).Format("2006-01-02")]++
						if i > 0 && !s.At.After(slots[i-1].At) {
							t.Errorf("slots not increasing: %v", slots)
						}
					}
					if len(slots) != 5 || len(days) != 5 {
						var got []string
						for _, s := range slots {
							got = append(got, s.At.In(loc).Format(time.RFC3339))
						}
						t.Fatalf("%d runs over 5 days on %d days: %v; want one a day", len(slots), len(days), got)
					}
					for _, s := range slots {
						h := s.At.In(loc).Hour()
						want := spec[strings.Index(spec, " ")+1 : strings.Index(spec, " ")+3]
						if fmt.Sprintf("%02d", h) != want && !(h == 3 && want == "02") {
							t.Errorf("run at %s local, want %s:xx (or 03:00 when %s:xx does not exist)", s.At.In(loc), want, want)
						}
					}
				})
			}
		}
	}
}

func TestRotateKeepsWallClockSlotsAcrossDST(t *testing.T) {
	regions := []string{"us-west-2", "us-east-1", "sa-east-1", "eu-west-3", "ap-northeast-1", "ap-southeast-2"}
	loc := mustLoc(t, "America/Los_Angeles")
	p, err := NewPlan(Schedule{Rotate: time.Hour, TimeZone: "America/Los_Angeles"}, regions)
	if err != nil {
		t.Fatal(err)
	}
	// Four days around the fall-back of 2026-11-01.
	from := time.Date(2026, 10, 30, 0, 0, 0, 0, loc).Add(-time.Second)
	to := time.Date(2026, 11, 3, 0, 0, 0, 0, loc).Add(-time.Second) // four local days: 97 real hours
	slots := p.Between(from, to)
	perRegion := map[string]int{}
	for i, s := range slots {
		perRegion[s.Region]++
		if s.At.In(loc).Minute() != 0 {
			t.Errorf("slot %s is not on the hour of the wall clock", s.At.In(loc))
		}
		// Each cycle of six consecutive slots holds every region once.
		if i >= 6 {
			if cyc := slots[i-6 : i]; cyc[0].Region == s.Region && !containsRegion(cyc[1:], s.Region) {
				continue
			}
			t.Errorf("slot %d (%s %s) breaks the rotation", i, s.Region, s.At.In(loc))
		}
	}
	// The wall-clock hours are kept: us-west-2 always at 00, 06, 12, 18 local.
	for _, s := range slots {
		if s.Region == "us-west-2" && s.At.In(loc).Hour()%6 != 0 {
			t.Errorf("us-west-2 ran at %s local, want 00/06/12/18", s.At.In(loc))
		}
	}
	// 96 wall hours, one of them repeated (run once): 96 slots, 16 a region.
	for _, r := range regions {
		if perRegion[r] != 16 {
			t.Errorf("%s ran %d times in 4 days, want 16 (%v)", r, perRegion[r], perRegion)
		}
	}
}

func containsRegion(ss []Slot, r string) bool {
	for _, s := range ss {
		if s.Region == r {
			return true
		}
	}
	return false
}

func TestCatchUp(t *testing.T) {
	regions := []string{"a-1", "b-1", "c-1"}
	last := time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)
	now := last.Add(72 * time.Hour)
	on, _ := NewPlan(Schedule{Rotate: time.Hour, CatchUp: true}, regions)
	got := on.Missed(last, now)
	if len(got) != 3 {
		t.Fatalf("catch_up after 3 days: %v, want the latest slot of each of 3 regions once", got)
	}
	for _, s := range got {
		if now.Sub(s.At) > 3*time.Hour {
			t.Errorf("caught up %v, want the latest missed slot", s)
		}
	}
	off, _ := NewPlan(Schedule{Rotate: time.Hour}, regions)
	if got := off.Missed(last, now); len(got) != 0 {
		t.Errorf("without catch_up: %v, want nothing", got)
	}
}

func TestSchedulerNoOverlap(t *testing.T) {
	p, _ := NewPlan(Schedule{Rotate: time.Hour}, []string{"a-1", "b-1"})
	busy := map[string]bool{"a-1": true}
	s := &Scheduler{Plans: []*Plan{p}, Running: func(r string) bool { return busy[r] }}
	now := time.Date(2026, 12, 6, 0, 30, 0, 0, time.UTC)
	s.Tick(now)
	var started, skipped []string
	for h := 1; h <= 4; h++ {
		for _, d := range s.Tick(now.Add(time.Duration(h) * time.Hour)) {
			if d.Started {
				started = append(started, d.Slot.Region)
			} else {
				skipped = append(skipped, d.Slot.Region+": "+d.Why)
			}
		}
	}
	if strings.Join(started, ",") != "b-1,b-1" || len(skipped) != 2 {
		t.Errorf("started %v, skipped %v; want b-1 twice and a-1 skipped while busy", started, skipped)
	}
	// A tick after a long pause runs a region once, not once per slot.
	busy = map[string]bool{}
	ds := s.Tick(now.Add(10 * time.Hour))
	n := 0
	for _, d := range ds {
		if d.Started {
			n++
		}
	}
	if n != 2 {
		t.Errorf("a late tick started %d runs, want one per region", n)
	}
}

func TestNewPlanRefuses(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{Cron: "0 3 * * *"}, "needs time_zone"},
		{Schedule{Cron: "0 3 * * *", TimeZone: "Mars/Olympus"}, "time_zone"},
		{Schedule{Cron: "61 3 * * *", TimeZone: "UTC"}, "cron"},
		{Schedule{}, "exactly one of cron or rotate"},
		{Schedule{Cron: "0 3 * * *", TimeZone: "UTC", Rotate: time.Hour}, "exactly one"},
		{Schedule{Rotate: 7 * time.Hour}, "divide a day"},
		{Schedule{Rotate: 30 * time.Second}, "rotate"},
	} {
		if _, err := NewPlan(tc.s, []string{"r-1"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPlan(%+v) = %v, want an error containing %q", tc.s, err, tc.want)
		}
	}
}
