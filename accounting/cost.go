package accounting

import (
	"errors"
	"sort"
)

// costPeriod is a running period as the cost model sees it.
type costPeriod struct {
	InstanceID string
	Region     string
	AZ         string
	Type       string
	Spot       bool
	Start, End int64 // Unix s; End 0 while running
	Estimated  bool
}

// costVolume is an EBS volume's existence as the cost model sees it.
type costVolume struct {
	InstanceID string
	Region     string
	Type       string
	SizeGB     int
	Start, End int64 // End 0 while the instance exists
	Estimated  bool
}

type spotKey struct{ region, typ, az string }

type spotPoint struct {
	at    int64
	price float64
}

// spotSeries holds collected spot prices, each key's points sorted by time.
type spotSeries map[spotKey][]spotPoint

// add appends a point; call sort after the last one.
func (ss spotSeries) add(region, typ, az string, at int64, price float64) {
	k := spotKey{region, typ, az}
	ss[k] = append(ss[k], spotPoint{at, price})
}

func (ss spotSeries) sort() {
	for _, pts := range ss {
		sort.Slice(pts, func(i, j int) bool { return pts[i].at < pts[j].at })
	}
}

// coster prices periods and volumes over time windows. Costs are additive over windows:
// the cost of [a, c) is the cost of [a, b) plus that of [b, c), so per-day splits, reports
// and budgets all agree with per-instance totals.
type coster struct {
	prices *Prices
	spot   spotSeries
	now    int64
}

// piece is a period's or volume's share of a window.
type piece struct {
	RunSeconds int64   // running seconds inside the window (not the billed minimum)
	USD        float64 // cost inside the window
	Unpriced   bool    // no known price: USD is not the cost, the cost is unknown
	Estimated  bool    // an estimated end, or spot priced without spot history
}

// period is p's cost inside [from, until). Billing is per second with a 60 s minimum per
// running period: the billed interval is [Start, max(End, Start+60)), clipped to the
// window (a window reaching now keeps the whole minimum), and a running period ends at
// now.
func (c *coster) period(p costPeriod, from, until int64) piece {
	end := p.End
	if end == 0 {
		end = max(c.now, p.Start)
	}
	billedEnd := max(end, p.Start+minBilledSeconds)
	if until >= c.now {
		// The minimum of a period that just started is owed already: a window reaching
		// now includes it, as EC2's bill would.
		until = max(until, billedEnd)
	}
	a, b := max(p.Start, from), min(billedEnd, until)
	out := piece{Estimated: p.Estimated}
	if r := min(end, until) - a; r > 0 {
		out.RunSeconds = r
	}
	if b <= a {
		return out
	}
	if p.Spot {
		if usd, ok := c.spotCost(p, a, b); ok {
			out.USD = usd
			return out
		}
		out.Estimated = true // no spot history yet: on-demand is the upper bound
	}
	od, err := c.prices.OnDemand(p.Region, p.Type)
	if err != nil {
		out.Unpriced = true
		return out
	}
	out.USD = float64(b-a) * od / 3600
	return out
}

// spotCost integrates the collected spot price series of p's zone over [a, b). Before
// the first known point the first price applies.
func (c *coster) spotCost(p costPeriod, a, b int64) (float64, bool) {
	pts := c.spot[spotKey{p.Region, p.Type, p.AZ}]
	if len(pts) == 0 {
		return 0, false
	}
	i := sort.Search(len(pts), func(i int) bool { return pts[i].at > a }) - 1
	if i < 0 {
		i = 0
	}
	usd := 0.0
	for t := a; t < b; i++ {
		next := b
		if i+1 < len(pts) && pts[i+1].at < b {
			next = pts[i+1].at
		}
		usd += float64(next-t) * pts[i].price / 3600
		t = next
	}
	return usd, true
}

// volume is v's storage cost inside [from, until): GB × USD per GB-month, prorated per
// second over HoursPerMonth.
func (c *coster) volume(v costVolume, from, until int64) piece {
	end := v.End
	if end == 0 {
		end = c.now
	}
	a, b := max(v.Start, from), min(end, until)
	out := piece{Estimated: v.Estimated}
	if b <= a {
		return out
	}
	price, err := c.prices.Volume(v.Region, v.Type)
	if err != nil {
		out.Unpriced = errors.Is(err, ErrUnpriced)
		return out
	}
	out.USD = float64(v.SizeGB) * price * float64(b-a) / (HoursPerMonth * 3600)
	return out
}

// hourly is what p costs per hour now: the latest collected spot price, else on-demand.
func (c *coster) hourly(p costPeriod) (float64, bool) {
	if p.Spot {
		if pts := c.spot[spotKey{p.Region, p.Type, p.AZ}]; len(pts) > 0 {
			return pts[len(pts)-1].price, true
		}
	}
	od, err := c.prices.OnDemand(p.Region, p.Type)
	return od, err == nil
}

// volumeHourly is what v costs per hour.
func (c *coster) volumeHourly(v costVolume) float64 {
	price, err := c.prices.Volume(v.Region, v.Type)
	if err != nil {
		return 0
	}
	return float64(v.SizeGB) * price / HoursPerMonth
}
