package config

// example is the commented example configuration; testdata/example.toml is a copy that
// the tests keep in step.
const example = `# tollgate configuration (/etc/tollgate/tollgate.toml).
#
# Every key is optional: what is left out takes the default shown. Unknown keys are
# errors, and every error names this file, the line and the key.
#
# AWS credentials are never written here. The daemon takes them from the AWS SDK's
# standard chain: environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...; EC2_ACCESS_KEY and
# EC2_SECRET_KEY also work), the shared config profile named by aws.profile, or the
# instance role.
#
# Durations are strings: "90m", "4h", "1h30m", "2d". Policy durations are whole minutes.

[broker]
socket = "/run/tollgate/tollgate.sock"
database = "/var/lib/tollgate/tollgate.db"    # local disk only, never NFS
# Several login hosts share one PostgreSQL database instead (the password is never here):
# database = "postgres://tollgate@db.example.edu/tollgate?sslmode=verify-full"
database_password_file = ""                   # PostgreSQL only: the role's password, mode 0600 ("" = TOLLGATE_DATABASE_PASSWORD)
admin_group = "tollgate-admin"                # members may run "tollgate admin ..."
enroll_groups = []                            # members are enrolled without "users add"
socket_mode = 0o666                           # anyone may connect; the peer uid decides
reconcile_interval = "5m"
log_level = "info"                            # debug | info | warn | error
audit_refusal_retention = "0"                 # how long refusals stay in the audit log; "0" = forever

[aws]
regions = ["us-west-2"]                       # regions the collector and reconcile scan
endpoint_url = ""                             # "" = AWS; a URL points every service at a simulator
profile = ""                                  # shared config profile ("" = the SDK's default)
run_instances_per_second = 2.0                # the daemon's own RunInstances pace
run_instances_burst = 5

# The default policy applies to every enrolled user.
[policy.default]
max_instances = 2                             # non-terminated instances
max_vcpus = 4                                 # vCPUs of pending and running instances
max_count = 0                                 # instances per launch; 0 = max_instances
instance_types = ["t3.micro", "t3.small"]     # names or patterns such as "t3.*"
images = ["ami-0123456789abcdef0"]            # ami ids or image-name patterns ("ubuntu/*jammy*")
image_owners = ["self", "amazon"]             # whose images: self | amazon | aws-marketplace | 12-digit
                                              # account ids (e.g. Canonical's "099720109477"); a
                                              # name pattern never matches anyone else's look-alike
regions = ["us-west-2"]                       # must be among aws.regions
default_lifetime = "4h"                       # lease of a new instance
max_lifetime = "12h"                          # longest lease from launch, extensions included
expire_action = "stop"                        # stop | terminate
expire_warning = "15m"                        # notice this long before a lease expires
budget_usd = 50.0                             # per budget_period; 0 = no budget
budget_period = "month"                       # term | month | week (term needs accounting.term_*)
budget_action = "stop"                        # stop | terminate | notify, when spend reaches the budget
spot = "allowed"                              # allowed | required | forbidden
security_groups = []                          # applied to every launch; never chosen by users
subnet = ""
instance_profile = ""                         # an instance role lends its power: use with care
volume_size_gb = 0                            # 0 = the image's default
volume_type = "gp3"

# Overrides for members of a Unix group. A user in several groups gets them applied in
# the order the tables appear here (later wins); a per-user override ("tollgate admin
# users set") is applied last.
[policy.group.tollgate-staff]
max_instances = 10
max_vcpus = 40
instance_types = ["t3.*", "c5.large"]
max_lifetime = "2d"
budget_usd = 500.0

[accounting]
collect_interval = "5m"                       # the daemon's own collector; "0" disables it
term_start = ""                               # YYYY-MM-DD, for budget_period = "term"
term_end = ""
mail_command = []                             # e.g. ["/usr/sbin/sendmail", "-t"]; notice on stdin
mail_domain = ""                              # mail goes to user@mail_domain; "" = local user

# On-demand prices in USD per hour, overriding the shipped table.
[accounting.prices]
# "t3.micro/us-west-2" = 0.0104

# EBS prices in USD per GB-month.
[accounting.volume_prices]
# gp3 = 0.08

[iam]
user_name_pattern = "tollgate-{user}"
path = "/tollgate/"
policy_name = "tollgate-student"
policy_file = ""                              # "" = the installed scripts/student-policy.json
propagation_timeout = "60s"                   # wait for STS to accept a new access key
permissions_boundary = ""                     # "" = none; the shipped daemon IAM policy requires
                                              # "arn:aws:iam::ACCOUNT:policy/tollgate-student-boundary"

# Load-driven spot worker pools (docs/balancer.md). None by default; for example:
# [[balancer.pool]]
# name = "gbrowse"
# gbrowse_conf = "/etc/gbrowse2/aws_balancer.conf"   # read GBrowse's file as-is
# load_source = "apache:http://localhost/server-status?auto"
# master_address = "203.0.113.10"
# renderfarm_file = "/etc/gbrowse2/renderfarm.conf"
# reload_command = ["/usr/bin/sudo", "-n", "/usr/sbin/apache2ctl", "graceful"]
# fallback = "on-demand"                          # or "wait"
# max_instances = 8
# budget_usd = 200.0

# Per-region services: an instance per region, started for a job and stopped
# (docs/regions.md). None by default; for example:
# [[regions.service]]
# name = "servicemon"
# home_region = "us-west-2"
# image = "NAVO"                                  # owned by the account in home_region
# regions = ["us-east-1", "sa-east-1", "eu-west-3", "ap-northeast-1", "ap-southeast-2"]
# instance_type = "t3.micro"
# public_key_file = "/etc/tollgate/navo.pub"
# instance_profile = "navo-ssm"
# commands = ["cd /home/ec2-user/ServiceMon", "./aws.sh"]
# timeout = "30m"
# budget_usd = 50.0
# [[regions.service.rule]]
# from_port = 22
# cidr = "203.0.113.0/24"
# [[regions.service.schedule]]
# rotate = "1h"                                   # one region an hour, in turn
# time_zone = "America/Los_Angeles"
`

// Example returns a commented example configuration that sets every key to its default
// and shows a group override. It parses cleanly; `tollgated dev` and the docs use it.
func Example() string { return example }
