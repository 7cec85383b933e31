package accounting

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
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
	if err := q.QueryRowContext(ctx, `SELECT coalesce(min(rowid), 0), coalesce(max(rowid), 0) FROM instances`).Scan(&lo, &hi); err != nil {
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
// anything from since on (the filters loadPeriods and loadVolumes apply). It reads one
// row per instance with its periods and volumes packed (acct_packs, kept equal to
// acct_periods and acct_volumes by triggers in the same transaction as every write)
// instead of every period and volume row: a term holds several per instance, and the
// SQLite driver's time goes per row and column. Parts read in separate transactions
// may differ by a collector write, as they would had the report run a moment earlier.
func loadPacked(ctx context.Context, q db.Querier, since int64, rowids [2]int64) ([]*instInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.id, coalesce(i.owner, ''), i.purpose, i.region, i.type, i.state,
		i.spot, i.tracked, i.launched_at, i.expires_at, i.gone_at, coalesce(k.periods, ''), coalesce(k.volumes, '')
		FROM instances i LEFT JOIN acct_packs k ON k.instance_id = i.id
		WHERE i.rowid >= ? AND i.rowid < ? AND (i.gone_at = '' OR i.gone_at >= ?)`,
		rowids[0], rowids[1], secTime(since-minBilledSeconds))
	if err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	defer rows.Close()
	var out []*instInfo
	for rows.Next() {
		in := &instInfo{}
		var launched, expires, gone, periods, vols string
		if err := rows.Scan(&in.ID, &in.Owner, &in.Purpose, &in.Region, &in.Type, &in.State,
			&in.Spot, &in.Tracked, &launched, &expires, &gone, &periods, &vols); err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		in.LaunchedAt, in.ExpiresAt, in.GoneAt = parseUnix(launched), parseUnix(expires), parseUnix(gone)
		if in.Periods, err = unpackPeriods(in, periods, since-minBilledSeconds); err != nil {
			return nil, fmt.Errorf("load periods of %s: %w", in.ID, err)
		}
		if in.Volumes, err = unpackVolumes(in, vols, since); err != nil {
			return nil, fmt.Errorf("load volumes of %s: %w", in.ID, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	slices.SortFunc(out, launchOrder) // here, on this part's goroutine: the merge is linear
	return out, nil
}

// unpackPeriods decodes in's packed periods, keeping those open or ending after
// after, in start order. Fields are substrings of s: no copies.
func unpackPeriods(in *instInfo, s string, after int64) ([]costPeriod, error) {
	var out []costPeriod
	for s != "" {
		var f [6]string
		var item string
		item, s = cutItem(s)
		if !splitFields(item, f[:]) {
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
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	}
	return out, nil
}

// unpackVolumes decodes in's packed volumes, keeping those existing after after, in
// start order.
func unpackVolumes(in *instInfo, s string, after int64) ([]costVolume, error) {
	var out []costVolume
	for s != "" {
		var f [5]string
		var item string
		item, s = cutItem(s)
		if !splitFields(item, f[:]) {
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
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	}
	return out, nil
}

// cutItem splits a pack at its first item separator.
func cutItem(s string) (item, rest string) {
	item, rest, _ = strings.Cut(s, ";")
	return item, rest
}

// splitFields splits item at commas into exactly len(f) fields; the last keeps any
// further commas.
func splitFields(item string, f []string) bool {
	for i := range len(f) - 1 {
		var ok bool
		if f[i], item, ok = strings.Cut(item, ","); !ok {
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
