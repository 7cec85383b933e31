package balancer

import (
	"fmt"
	"sort"
)

// Row is one line of a load table: at a load of Load (requests per second, or busy
// workers) or more, run between Min and Max slaves.
type Row struct {
	Load     float64
	Min, Max int
}

// Table is a load table, sorted by Load ascending, thresholds unique.
type Table []Row

// NewTable sorts rows into a table. A duplicate threshold overwrites the earlier row, as
// GBrowse's parser does. Negative values and a min above its max are refused.
func NewTable(rows []Row) (Table, error) {
	byLoad := map[float64]Row{}
	for i, r := range rows {
		switch {
		case r.Load < 0 || r.Min < 0 || r.Max < 0:
			return nil, fmt.Errorf("row %d (%g %d %d): load, min and max must not be negative", i+1, r.Load, r.Min, r.Max)
		case r.Min > r.Max:
			return nil, fmt.Errorf("row %d (%g %d %d): min %d is above max %d", i+1, r.Load, r.Min, r.Max, r.Min, r.Max)
		}
		byLoad[r.Load] = r
	}
	t := make(Table, 0, len(byLoad))
	for _, r := range byLoad {
		t = append(t, r)
	}
	sort.Slice(t, func(i, j int) bool { return t[i].Load < t[j].Load })
	return t, nil
}

// DefaultTable is GBrowse's default: 0.1 0 1, 0.5 0 2, 1.0 1 3, 2.0 2 4.
func DefaultTable() Table {
	return Table{{0.1, 0, 1}, {0.5, 0, 2}, {1.0, 1, 3}, {2.0, 2, 4}}
}

// Lookup is the band for load, exactly as GBrowse computes it: the last row whose
// threshold is at or below the load (a load on a boundary takes the upper row); below the
// lowest threshold 0..0; above the highest, the last row.
func (t Table) Lookup(load float64) (min, max int) {
	i := sort.Search(len(t), func(i int) bool { return t[i].Load > load }) - 1
	if i < 0 {
		return 0, 0
	}
	return t[i].Min, t[i].Max
}

// MaxMax is the largest max of the table.
func (t Table) MaxMax() int {
	m := 0
	for _, r := range t {
		m = max(m, r.Max)
	}
	return m
}
