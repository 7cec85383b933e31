package cli

// AdminCmd groups `tollgate admin …`. The daemon, not the CLI, decides who is an admin
// (uid 0 or a member of admin_group); these commands only ask.
type AdminCmd struct {
	Users     AdminUsersCmd     `cmd:"" help:"Enrol, list, change, disable and remove users."`
	Instances AdminInstancesCmd `cmd:"" help:"See and terminate anyone's instances."`
	Report    AdminReportCmd    `cmd:"" help:"Spend report grouped by user, group, purpose, type, region or day."`
	Collect   AdminCollectCmd   `cmd:"" help:"Run one accounting snapshot of every region now."`
	Audit     AdminAuditCmd     `cmd:"" help:"Read the audit log."`
	IAM       AdminIAMCmd       `cmd:"" name:"iam" help:"List and revoke per-user IAM identities."`
	Reconcile AdminReconcileCmd `cmd:"" help:"Settle interrupted launches and adopt tagged instances now."`
	Balancer  AdminBalancerCmd  `cmd:"" help:"See and steer the load-driven worker pools."`
	Regions   AdminRegionsCmd   `cmd:"" help:"Set up, check, clear, update and run the per-region services."`
}

// AdminUsersCmd groups `tollgate admin users …`.
type AdminUsersCmd struct {
	Add     AdminUsersAddCmd     `cmd:"" help:"Enrol users one by one."`
	Import  AdminUsersImportCmd  `cmd:"" help:"Enrol a roster CSV (username[,group]); all or nothing."`
	Ls      AdminUsersLsCmd      `cmd:"" help:"List enrolled users."`
	Set     AdminUsersSetCmd     `cmd:"" help:"Change a user's per-user policy override."`
	Disable AdminUsersDisableCmd `cmd:"" help:"Disable (or --enable) a user."`
	Rm      AdminUsersRmCmd      `cmd:"" help:"Remove a user's enrolment."`
}

// AdminInstancesCmd groups `tollgate admin instances …`.
type AdminInstancesCmd struct {
	Ls        AdminInstancesLsCmd        `cmd:"" help:"List everyone's instances."`
	Terminate AdminInstancesTerminateCmd `cmd:"" help:"Terminate anyone's instances."`
}
