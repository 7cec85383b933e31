package accounting

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/db"
)

// loadParts is how many parts a report loads and walks at once, each on its own
// goroutine and connection: the driver's per-row cost is what a report over a term
// waits for, and it is CPU-bound.
const loadParts = 2

// rowidParts splits the instances table's rowids into loadParts ranges. A part that
// reads a range reads only its pages.
func rowidParts(ctx context.Context, q db.Querier) ([loadParts][2]int64, error) {
	var out [loadParts][2]int64
	var lo, hi int64
	// Two subqueries: each is one B-tree descent, where min and max together scan.
	if err := q.QueryRowContext(ctx, `SELECT coalesce((SELECT min(rowid) FROM instances), 0),
		coalesce((SELECT max(rowid) FROM instances), 0)`).Scan(&lo, &hi); err != nil {
		return out, fmt.Errorf("instance rowids: %w", err)
	}
	step := (hi - lo + loadParts) / loadParts
	for i := range out {
		out[i] = [2]int64{lo + int64(i)*step, lo + int64(i+1)*step}
	}
	out[loadParts-1][1] = hi + 1 // rows added since are in no part: as if loaded a moment earlier
	return out, nil
}

// launchOrder orders instances by launch time, then id.
func launchOrder(a, b *instInfo) int {
	if c := cmp.Compare(a.LaunchedAt, b.LaunchedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// loadPacked reads the instances with rowids in [rowids[0], rowids[1]) not gone
// before since, in launch order, each with its periods and volumes that may cost
// anything from since on. It reads one
// row per instance with its periods and volumes packed in it (pack_periods and
// pack_volumes, kept equal to acct_periods and acct_volumes by triggers in the same
// transaction as every write) instead of every period and volume row: a term holds
// several per instance, and the SQLite driver's time goes per row and column. Parts read in separate transactions
// may differ by a collector write, as they would had the report run a moment earlier.
func loadPacked(ctx context.Context, q db.Querier, since int64, rowids [2]int64) ([]*instInfo, error) {
	return queryPacked(ctx, q, since, "rowid >= ? AND rowid < ?", rowids[0], rowids[1])
}

// queryPacked reads the instances matching where (SQL over the instances table's
// columns, with args; "" for all) not gone before since, in launch order, each with its
// periods and volumes that may cost anything from since on.
func queryPacked(ctx context.Context, q db.Querier, since int64, where string, args ...any) ([]*instInfo, error) {
	if where != "" {
		where = " AND " + where
	}
	// One column per row: the driver's cost is per column as well as per row. Every
	// field but the last is an id, a name or a number that cannot hold the separator
	// (unit separator, U+001F); purpose, free text from tags, comes last and may. Every
	// column is NOT NULL or coalesced: concat_ws skips NULLs, which would shift fields.
	// The separator is an argument: SQLite spells the character char(31), PostgreSQL
	// chr(31).
	rows, err := q.QueryContext(ctx, `SELECT concat_ws(?, id, coalesce(owner, ''), region, type, state,
		spot, tracked, launched_at, expires_at, gone_at, pack_periods, pack_volumes, purpose)
		FROM instances
		WHERE (gone_at = '' OR gone_at >= ?)`+where,
		append([]any{"\x1f", secTime(since - minBilledSeconds)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	defer rows.Close()
	var (
		out []*instInfo
		u   unpacker
	)
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		in, err := u.instance(row, since)
		if err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	slices.SortFunc(out, launchOrder) // here, on this part's goroutine: the merge is linear
	return out, nil
}

// slabSize is how many items an unpacker allocates at once, at most: slabs start small
// and double, so one user's few instances cost little and a term's many few
// allocations.
const slabSize = 4096

// unpacker decodes loadPacked's rows. Instances, periods and volumes come from slabs
// (a term holds tens of thousands of each): a few allocations instead of one or two per
// item, and far less for the garbage collector to trace.
type unpacker struct {
	insts   []instInfo
	periods []costPeriod
	volumes []costVolume
}

// take returns a slice of n free items of *slab, starting a new slab when it is full.
func take[T any](slab *[]T, n int) []T {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, max(n, min(2*cap(*slab), slabSize), 16))
	}
	l := len(*slab)
	*slab = (*slab)[:l+n]
	return (*slab)[l : l+n : l+n]
}

// instance decodes one row of loadPacked: the instance's fields, and its periods and
// volumes that may cost anything from since on. Fields are substrings of row.
func (u *unpacker) instance(row string, since int64) (*instInfo, error) {
	var f [13]string
	if !splitFields(row, "\x1f", f[:]) {
		return nil, fmt.Errorf("bad instance row %q", row)
	}
	in := &take(&u.insts, 1)[0]
	*in = instInfo{ID: f[0], Owner: f[1], Region: f[2], Type: f[3], State: f[4],
		Spot: f[5] == "1", Tracked: f[6] == "1", Purpose: f[12],
		LaunchedAt: parseUnix(f[7]), ExpiresAt: parseUnix(f[8]), GoneAt: parseUnix(f[9])}
	var err error
	if in.Periods, err = u.unpackPeriods(in, f[10], since-minBilledSeconds); err != nil {
		return nil, fmt.Errorf("periods of %s: %w", in.ID, err)
	}
	if in.Volumes, err = u.unpackVolumes(in, f[11], since); err != nil {
		return nil, fmt.Errorf("volumes of %s: %w", in.ID, err)
	}
	return in, nil
}

// unpackPeriods decodes in's packed periods, keeping those open or ending after
// after, in start order. Fields are substrings of s: no copies.
func (u *unpacker) unpackPeriods(in *instInfo, s string, after int64) ([]costPeriod, error) {
	if s == "" {
		return nil, nil
	}
	out := take(&u.periods, strings.Count(s, ";")+1)[:0]
	for s != "" {
		var f [6]string
		var item string
		item, s = cutItem(s)
		if !splitFields(item, ",", f[:]) {
			return nil, fmt.Errorf("bad period pack %q", item)
		}
		start, ok1 := atoi(f[0])
		end, ok2 := atoi(f[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("bad period pack %q", item)
		}
		if end != 0 && end <= after {
			continue
		}
		p := costPeriod{InstanceID: in.ID, Region: in.Region, Type: f[4], Spot: f[3] == "1",
			Start: start, End: end, Estimated: f[2] == "1"}
		if p.Spot {
			p.AZ = f[5]
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b costPeriod) int { return cmp.Compare(a.Start, b.Start) })
	return out, nil
}

// unpackVolumes decodes in's packed volumes, keeping those existing after after, in
// start order.
func (u *unpacker) unpackVolumes(in *instInfo, s string, after int64) ([]costVolume, error) {
	if s == "" {
		return nil, nil
	}
	out := take(&u.volumes, strings.Count(s, ";")+1)[:0]
	for s != "" {
		var f [5]string
		var item string
		item, s = cutItem(s)
		if !splitFields(item, ",", f[:]) {
			return nil, fmt.Errorf("bad volume pack %q", item)
		}
		start, ok1 := atoi(f[0])
		end, ok2 := atoi(f[1])
		size, ok3 := atoi(f[3])
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("bad volume pack %q", item)
		}
		if end != 0 && end <= after {
			continue
		}
		out = append(out, costVolume{InstanceID: in.ID, Region: in.Region, Type: f[4], SizeGB: int(size),
			Start: start, End: end, Estimated: f[2] == "1"})
	}
	slices.SortFunc(out, func(a, b costVolume) int { return cmp.Compare(a.Start, b.Start) })
	return out, nil
}

// cutItem splits a pack at its first item separator.
func cutItem(s string) (item, rest string) {
	item, rest, _ = strings.Cut(s, ";")
	return item, rest
}

// splitFields splits item at sep into exactly len(f) fields; the last keeps any
// further separators.
func splitFields(item, sep string, f []string) bool {
	for i := range len(f) - 1 {
		var ok bool
		if f[i], item, ok = strings.Cut(item, sep); !ok {
			return false
		}
	}
	f[len(f)-1] = item
	return true
}

// atoi parses a packed integer (SQLite prints them in decimal, possibly negative).
func atoi(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
