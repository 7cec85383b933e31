// Package accounting knows what every instance has cost, to the minute: the collector
// snapshots all instances in every region into SQLite, running periods are rebuilt from
// state changes, cost is per-second billing with a 60 s minimum per running period plus
// EBS, and reports group spend by user, group, purpose, type, region and day. It also
// enforces what depends on spend and time: budgets, leases (the reaper) and notices.
package accounting

import "github.com/tollgate/tollgate"

// The types this package produces are defined in package tollgate, so that the CLI can
// decode them without linking this package.
type (
	InstanceCost  = tollgate.InstanceCost
	Usage         = tollgate.Usage
	Notice        = tollgate.Notice
	CollectResult = tollgate.CollectResult
	RegionResult  = tollgate.RegionResult
	ReportRequest = tollgate.ReportRequest
	Report        = tollgate.Report
	ReportRow     = tollgate.ReportRow
	DaySpend      = tollgate.DaySpend
	BudgetLine    = tollgate.BudgetLine
)
