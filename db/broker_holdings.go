package db

import (
	"context"
	"time"
)

// Holding is one thing a user holds for admission: a live instance, or a launch still
// requested (Count instances not yet recorded).
type Holding struct {
	InstanceID string // "" for a requested launch
	State      string // instance state, or "requested"
	Type       string
	Region     string
	Count      int // 1 for an instance
	ExpiresAt  time.Time
	// PriceHourly and VCPUsEach come from the launch record; zero for an instance
	// adopted without one (the caller falls back to its price table).
	PriceHourly float64
	VCPUsEach   int
}

// holdingsQuery reads only the columns admission needs (no tags to decode), live
// instances and requested launches in one statement.
const holdingsQuery = `SELECT i.id, i.state, i.type, i.region, 1, i.expires_at,
		coalesce(l.price_hourly, 0), coalesce(l.vcpus_each, 0)
	FROM instances i LEFT JOIN launches l ON l.id = i.launch_id
	WHERE i.owner = ? AND i.gone_at = '' AND i.state NOT IN ('terminated', 'shutting-down')
	UNION ALL
	SELECT '', 'requested', type, region, count, expires_at, price_hourly, vcpus_each
	FROM launches WHERE owner = ? AND state = 'requested'`

// Holdings returns what owner holds through q (the pool, with a prepared statement, or
// the admission transaction): every live instance (neither gone, terminated nor
// shutting down) and every launch still requested.
func Holdings(ctx context.Context, q Querier, owner string) ([]Holding, error) {
	rows, err := queryContext(ctx, q, holdingsQuery, owner, owner)
	return scanAll("holdings of "+owner, rows, err, scanHolding)
}

func scanHolding(r Scanner) (Holding, error) {
	var h Holding
	var expires string
	if err := r.Scan(&h.InstanceID, &h.State, &h.Type, &h.Region, &h.Count, &expires, &h.PriceHourly, &h.VCPUsEach); err != nil {
		return Holding{}, err
	}
	h.ExpiresAt, _ = ParseTime(expires)
	return h, nil
}
