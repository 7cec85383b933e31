package awssim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// handler serves one EC2 action. It runs with s.mu held and must not block.
type handler func(s *Sim, rg *region, c *call, now time.Time) (any, *apiError)

var ec2Handlers map[string]handler

func init() {
	ec2Handlers = map[string]handler{
		"RunInstances":              (*Sim).runInstances,
		"DescribeInstances":         (*Sim).describeInstances,
		"StartInstances":            (*Sim).startInstances,
		"StopInstances":             (*Sim).stopInstances,
		"TerminateInstances":        (*Sim).terminateInstances,
		"CreateTags":                (*Sim).createTags,
		"DeleteTags":                (*Sim).deleteTags,
		"ImportKeyPair":             (*Sim).importKeyPair,
		"DescribeKeyPairs":          (*Sim).describeKeyPairs,
		"DeleteKeyPair":             (*Sim).deleteKeyPair,
		"DescribeRegions":           (*Sim).describeRegions,
		"DescribeAvailabilityZones": (*Sim).describeAvailabilityZones,
		"DescribeImages":            (*Sim).describeImages,
		"DescribeSpotPriceHistory":  (*Sim).describeSpotPriceHistory,
		"DescribeVolumes":           (*Sim).describeVolumes,
		"DeleteVolume":              (*Sim).deleteVolume,
		// Security groups and snapshots (secgroups.go).
		"CreateSecurityGroup":           (*Sim).createSecurityGroup,
		"DescribeSecurityGroups":        (*Sim).describeSecurityGroups,
		"AuthorizeSecurityGroupIngress": (*Sim).authorizeIngress,
		"RevokeSecurityGroupIngress":    (*Sim).revokeIngress,
		"DeleteSecurityGroup":           (*Sim).deleteSecurityGroup,
		"DescribeSnapshots":             (*Sim).describeSnapshots,
		"DeleteSnapshot":                (*Sim).deleteSnapshot,
		// Images (images.go).
		"CopyImage":       (*Sim).copyImage,
		"DeregisterImage": (*Sim).deregisterImage,
		// Console output (sshd.go).
		"GetConsoleOutput": (*Sim).getConsoleOutput,
	}
}

// serveEC2 applies the fault knobs, runs the action under the state lock and writes the
// response. A FailAfterApply fault discards the response after the state has changed.
func (s *Sim) serveEC2(w http.ResponseWriter, r *http.Request, regionName, action string, form url.Values) {
	reqID := s.newRequestID()
	h := ec2Handlers[action]
	if h == nil {
		if action == "" {
			writeEC2Error(w, reqID, errf(400, "MissingAction", "The request must contain the parameter Action"))
			return
		}
		writeEC2Error(w, reqID, errf(400, "InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	if lat := s.latency(); lat > 0 {
		sleepCtx(r, lat)
	}
	c := &call{form: form, action: action, reqID: reqID}
	body, aerr := s.applyEC2(h, regionName, c)
	if aerr != nil {
		writeEC2Error(w, reqID, aerr)
		return
	}
	buf := responseBuffers.Get().(*[]byte)
	out, err := marshalEC2((*buf)[:0], action, reqID, body)
	if cap(out) <= maxPooledResponse {
		// The buffer goes back once the response is written: Write does not retain it.
		*buf = out[:0]
		defer responseBuffers.Put(buf)
	}
	if err != nil {
		writeEC2Error(w, reqID, errf(500, "InternalError", "awssim: encoding response: %v", err))
		return
	}
	if len(out) > sdkSafeResponseBytes {
		sleepCtx(r, sdkRaceDelay)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// The SDK (smithy-go) closes a request's body as soon as the response headers arrive,
// and its body wrapper's WriteTo then returns io.EOF. net/http's connection write loop
// still performs one last read of the body after sending it, treats that EOF as a write
// error and closes the connection, cutting off any response body not yet buffered by the
// client (its buffer is 4 KiB). Against AWS the network round trip hides the race; over
// loopback a fast server loses it often. So responses too large to fit in the client's
// buffer are held back briefly, giving the client's write loop time to finish.
// Upstream: aws/aws-sdk-go-v2 issues #1825 and #2737 (the SDK retries net.ErrClosed since
// PR #2949, so production calls recover; RunInstances stays safe through its ClientToken).
const (
	sdkSafeResponseBytes = 3000
	sdkRaceDelay         = 2 * time.Millisecond
)

func (s *Sim) applyEC2(h handler, regionName string, c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[regionName]
	if rg == nil {
		return nil, errf(401, "AuthFailure", "AWS was not able to validate the provided access credentials (region %q is not simulated)", regionName)
	}
	now := s.Now()
	if s.faults.Throttle && !s.throttle(rg, c.action, unfiltered(c), resourceCount(c), now) {
		return nil, errf(503, "RequestLimitExceeded", "Request limit exceeded.")
	}
	if s.roll(s.faults.ErrorRate, c.action) {
		if s.faultState.rng.IntN(2) == 0 {
			return nil, errf(500, "InternalError", "An internal error has occurred")
		}
		return nil, errf(503, "Unavailable", "The service is unavailable. Please try again shortly.")
	}
	if c.boolean("DryRun") {
		return nil, errf(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	body, aerr := h(s, rg, c, now)
	if aerr != nil {
		return nil, aerr
	}
	if s.roll(s.faults.FailAfterApply, c.action) {
		return nil, errf(500, "InternalError", "An internal error has occurred")
	}
	return body, nil
}

// unfiltered reports a Describe call with no ids, filters or paging, which EC2 throttles
// in its own, smaller bucket.
func unfiltered(c *call) bool {
	if !strings.HasPrefix(c.action, "Describe") {
		return false
	}
	for k := range c.form {
		if k != "Action" && k != "Version" && k != "DryRun" {
			return false
		}
	}
	return true
}

func resourceCount(c *call) int {
	switch c.action {
	case "RunInstances":
		n, _ := strconv.Atoi(c.get("MaxCount"))
		return n
	case "StartInstances", "StopInstances", "TerminateInstances":
		return len(c.list("InstanceId"))
	}
	return 0
}

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

func notFoundIDs(code, what string, ids []string) *apiError {
	if len(ids) == 1 {
		return errf(400, code, "The %s ID '%s' does not exist", what, ids[0])
	}
	return errf(400, code, "The %s IDs '%s' do not exist", what, strings.Join(ids, ", "))
}

// resolveInstances maps ids to visible instances of rg, failing as EC2 does on malformed or
// unknown ids. Duplicates are dropped; the result is in launch order.
func (s *Sim) resolveInstances(rg *region, ids []string, now time.Time, window time.Duration) ([]*instance, *apiError) {
	var missingIDs []string
	seen := map[string]bool{}
	var out []*instance
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, errf(400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		in := s.byID[id]
		if in == nil || in.region != rg.name || !in.visible(now) || (window > 0 && now.Before(in.firstLaunch.Add(window))) {
			missingIDs = append(missingIDs, id)
			continue
		}
		out = append(out, in)
	}
	if len(missingIDs) > 0 {
		return nil, notFoundIDs("InvalidInstanceID.NotFound", "instance", missingIDs)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].seq < out[b].seq })
	return out, nil
}

// --- RunInstances ------------------------------------------------------------------

var validVolumeTypes = map[string]bool{"gp2": true, "gp3": true, "io1": true, "io2": true, "st1": true, "sc1": true, "standard": true}

type volSpec struct {
	device, volType, snapshot string
	size, iops, through       int
	dot                       bool
}

// blockDevices reads RunInstances' BlockDeviceMapping.N parameters into the root volume
// (the image's, with any override of its device applied) and the extra volumes. It
// refuses what EC2 refuses: an EBS mapping with neither a size nor a snapshot id
// (MissingParameter, even on the root device), a size below the snapshot's, another
// snapshot on the root device, an unknown snapshot (InvalidBlockDeviceMapping,
// InvalidSnapshot.NotFound).
func blockDevices(rg *region, img *image, c *call) (volSpec, []volSpec, *apiError) {
	root := volSpec{device: img.rootDevice, volType: "gp3", snapshot: img.snapshotID, size: img.rootSizeGiB, dot: true}
	var extra []volSpec
	for _, n := range c.indices("BlockDeviceMapping") {
		p := "BlockDeviceMapping." + strconv.Itoa(n) + "."
		dev := c.get(p + "DeviceName")
		if dev == "" {
			return root, nil, missing("BlockDeviceMapping.DeviceName")
		}
		if c.has(p+"NoDevice") || c.get(p+"VirtualName") != "" {
			continue
		}
		isRoot := dev == img.rootDevice
		spec := volSpec{device: dev, volType: "gp3", dot: true}
		snap := c.get(p + "Ebs.SnapshotId")
		snapSize := 0
		switch {
		case snap == "":
		case isRoot && snap != img.snapshotID:
			return root, nil, errf(400, "InvalidBlockDeviceMapping", "snapshotId cannot be modified on root device")
		default:
			if snapSize = snapshotSize(rg, snap); snapSize == 0 {
				return root, nil, errf(400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", snap)
			}
		}
		if isRoot {
			// The root volume is always made from the image's snapshot; a mapping
			// without one only overrides its size, type and deletion.
			snap, snapSize = img.snapshotID, img.rootSizeGiB
		}
		spec.snapshot, spec.size = snap, snapSize
		if v := c.get(p + "Ebs.VolumeType"); v != "" {
			if !validVolumeTypes[v] {
				return root, nil, badParam("Value (%s) for parameter volumeType is invalid. Valid volume types are gp2, gp3, io1, io2, st1, sc1, standard.", v)
			}
			spec.volType = v
		}
		v, hasSize, err := c.integer(p + "Ebs.VolumeSize")
		if err != nil {
			return root, nil, err
		}
		if !hasSize && c.get(p+"Ebs.SnapshotId") == "" {
			return root, nil, missing("size or snapshotId")
		}
		if hasSize {
			if v < 1 || v > 16384 {
				return root, nil, badParam("Volume size %d is out of range (1-16384 GiB).", v)
			}
			if v < snapSize {
				return root, nil, errf(400, "InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", v, snap, snapSize)
			}
			spec.size = v
		}
		if v := c.get(p + "Ebs.DeleteOnTermination"); v != "" {
			spec.dot = strings.EqualFold(v, "true")
		}
		if v, ok, _ := c.integer(p + "Ebs.Iops"); ok {
			spec.iops = v
		}
		if v, ok, _ := c.integer(p + "Ebs.Throughput"); ok {
			spec.through = v
		}
		if isRoot {
			root = spec
		} else {
			extra = append(extra, spec)
		}
	}
	return root, extra, nil
}

// snapshotSize is the size of snapshot id in rg (a standalone snapshot or an image's
// root), 0 when there is no such snapshot.
func snapshotSize(rg *region, id string) int {
	if sn := rg.snapshots[id]; sn != nil {
		return sn.sizeGiB
	}
	for _, im := range rg.images {
		if im.snapshotID == id {
			return im.rootSizeGiB
		}
	}
	return 0
}

// instanceProfile reads RunInstances' IamInstanceProfile.Arn (or, without it, .Name) and
// returns the profile's ARN and id ("" for none). A profile the mounted IAM simulator
// does not keep is refused as EC2 refuses it; with no such simulator mounted any
// well-formed profile is taken, with an ARN and id derived from it.
func (s *Sim) instanceProfile(c *call) (arn, id string, aerr *apiError) {
	arn, name := c.get("IamInstanceProfile.Arn"), c.get("IamInstanceProfile.Name")
	switch {
	case arn != "" && !strings.HasPrefix(arn, "arn:aws:iam::"):
		return "", "", badParam("Value (%s) for parameter iamInstanceProfile.arn is invalid.", arn)
	case arn == "" && name == "":
		return "", "", nil
	}
	k := s.profileKeeper()
	if k == nil {
		if arn == "" {
			arn = "arn:aws:iam::" + AccountID + ":instance-profile/" + name
		}
		return arn, "AIPA" + strings.ToUpper(hex17(hash64("profile", arn)))[1:17], nil
	}
	if arn != "" {
		if _, id, ok := k.InstanceProfile(arn); ok {
			return arn, id, nil
		}
		return "", "", badParam("Value (%s) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN", arn)
	}
	if arn, id, ok := k.InstanceProfile(name); ok {
		return arn, id, nil
	}
	return "", "", badParam("Value (%s) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name", name)
}

func (s *Sim) runInstances(rg *region, c *call, now time.Time) (any, *apiError) {
	now = now.Truncate(time.Second)
	imageID := c.get("ImageId")
	if imageID == "" {
		return nil, missing("ImageId")
	}
	typeName := c.get("InstanceType")
	if typeName == "" {
		return nil, missing("InstanceType")
	}
	minCount, okMin, err := c.integer("MinCount")
	if err != nil {
		return nil, err
	}
	maxCount, okMax, err := c.integer("MaxCount")
	if err != nil {
		return nil, err
	}
	if !okMin {
		return nil, missing("MinCount")
	}
	if !okMax {
		return nil, missing("MaxCount")
	}
	if minCount < 1 {
		return nil, badParam("Value (%d) for parameter minCount is invalid. Expecting a value greater than 0.", minCount)
	}
	if maxCount < minCount {
		return nil, badParam("Value (%d) for parameter maxCount is invalid. Expecting a value greater than or equal to minCount (%d).", maxCount, minCount)
	}
	if maxCount > 1000 {
		return nil, errf(400, "InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 1000 allows for the specified instance type.", maxCount)
	}
	token := c.get("ClientToken")
	if len(token) > 64 {
		return nil, badParam("Value (%s) for parameter clientToken is invalid. Client tokens must be at most 64 ASCII characters.", token)
	}
	params := canonicalParams(c.form)
	if token != "" {
		if rec := rg.tokens[token]; rec != nil {
			if rec.params != params {
				return nil, errf(400, "IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
			}
			return s.reservationXML(rec.reservation, rec.instances, now), nil
		}
	}

	if !strings.HasPrefix(imageID, "ami-") {
		return nil, errf(400, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", imageID)
	}
	img := rg.imageIdx[imageID]
	if img == nil {
		return nil, errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", imageID)
	}
	if img.state(now) != "available" {
		return nil, errf(400, "InvalidAMIID.Unavailable", "The image '%s' is not available yet", imageID)
	}
	it, ok := instanceTypeByName[typeName]
	if !ok {
		return nil, badParam("Invalid value '%s' for InstanceType.", typeName)
	}
	if it.Architecture != img.arch {
		return nil, badParam("The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.", it.Architecture, img.arch)
	}
	keyName := c.get("KeyName")
	if keyName != "" && rg.keys[keyName] == nil {
		return nil, errf(400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", keyName)
	}
	subnet := c.get("SubnetId")
	if subnet != "" && !strings.HasPrefix(subnet, "subnet-") {
		return nil, errf(400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnet)
	}
	az := c.get("Placement.AvailabilityZone")
	if az != "" {
		okAZ := false
		for _, z := range rg.azs {
			okAZ = okAZ || z == az
		}
		if !okAZ {
			return nil, badParam("Invalid availability zone: [%s]", az)
		}
	} else if subnet != "" {
		az = rg.azs[hash64(subnet)%uint64(len(rg.azs))]
	} else {
		az = rg.azs[int(s.counter)%len(rg.azs)]
	}
	if subnet == "" {
		subnet = "subnet-" + hex17(hash64("subnet", az))[:17]
	}
	var groups []group
	for _, g := range c.list("SecurityGroupId") {
		if !strings.HasPrefix(g, "sg-") {
			return nil, errf(400, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", g)
		}
		name := g
		if sg := s.groups(rg)[g]; sg != nil {
			name = sg.name
		}
		groups = append(groups, group{id: g, name: name})
	}
	for _, g := range c.list("SecurityGroup") {
		groups = append(groups, group{id: "sg-" + hex17(hash64("sg", rg.name, g)), name: g})
	}
	if len(groups) == 0 {
		groups = []group{{id: "sg-" + hex17(hash64("sg", rg.name, "default")), name: "default"}}
	}
	userData := c.get("UserData")
	if userData != "" {
		raw, err := base64.StdEncoding.DecodeString(userData)
		if err != nil {
			return nil, badParam("Invalid BASE64 encoding of user data.")
		}
		if len(raw) > 16384 {
			return nil, badParam("User data is limited to 16384 bytes")
		}
	}
	profileArn, profileID, aerr := s.instanceProfile(c)
	if aerr != nil {
		return nil, aerr
	}

	meta, aerr := metadataFrom(c)
	if aerr != nil {
		return nil, aerr
	}

	spot, persistent := false, false
	switch mt := c.get("InstanceMarketOptions.MarketType"); mt {
	case "":
	case "spot":
		spot = true
		switch st := c.get("InstanceMarketOptions.SpotOptions.SpotInstanceType"); st {
		case "", "one-time":
		case "persistent":
			persistent = true
		default:
			return nil, badParam("Invalid value '%s' for SpotInstanceType.", st)
		}
		if mp := c.get("InstanceMarketOptions.SpotOptions.MaxPrice"); mp != "" {
			max, err := strconv.ParseFloat(mp, 64)
			if err != nil || max <= 0 {
				return nil, badParam("Invalid value '%s' for MaxPrice.", mp)
			}
			cur, _ := rg.spotPriceAt(az, typeName, now)
			if max < cur {
				return nil, errf(400, "SpotMaxPriceTooLow", "Your Spot request price of %s is lower than the minimum required Spot request fulfillment price of %s.", mp, strconv.FormatFloat(cur, 'f', -1, 64))
			}
		}
	default:
		return nil, badParam("Invalid value '%s' for MarketType.", mt)
	}

	if aerr := s.capacityRefusal(rg.name, az, typeName, spot); aerr != nil {
		return nil, aerr
	}

	// Block devices: the root device gets the image's root volume unless overridden.
	root, extra, aerr := blockDevices(rg, img, c)
	if aerr != nil {
		return nil, aerr
	}

	instTags, volTags := map[string]string{}, map[string]string{}
	for _, n := range c.indices("TagSpecification") {
		p := "TagSpecification." + strconv.Itoa(n)
		tl, aerr := c.tags(p + ".Tag")
		if aerr != nil {
			return nil, aerr
		}
		var dst map[string]string
		switch rt := c.get(p + ".ResourceType"); rt {
		case "instance":
			dst = instTags
		case "volume":
			dst = volTags
		case "spot-instances-request", "network-interface":
			continue
		case "":
			return nil, missing("TagSpecification.ResourceType")
		default:
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, t := range tl {
			dst[t.Key] = t.Value
		}
	}

	resID := s.newID("r")
	var launched []*instance
	for i := 0; i < maxCount; i++ {
		id := s.newID("i")
		in := &instance{
			seq: s.counter, id: id, reservationID: resID, region: rg.name, az: az,
			typ: typeName, imageID: imageID, keyName: keyName, arch: img.arch, rootDevice: img.rootDevice,
			subnetID: subnet, vpcID: "vpc-" + hex17(hash64("vpc", rg.name)), groups: groups,
			spot: spot, spotPersistent: persistent, clientToken: token, userData: userData,
			profileArn: profileArn, profileID: profileID, launchIndex: i, tags: copyTags(instTags),
			launchTime: now, firstLaunch: now, metadata: meta,
		}
		if spot {
			in.spotRequestID = "sir-" + strings.ToLower(base32ish(hash64("sir", id)))
		}
		in.events = []event{{now, StatePending}, {now.Add(PendingDuration), StateRunning}}
		rg.nextIP++
		n := rg.nextIP + 10
		in.privateIP = fmt.Sprintf("172.31.%d.%d", (n>>8)&0xff, n&0xff)
		in.publicIP = s.newPublicIP()
		for _, spec := range append([]volSpec{root}, extra...) {
			v := &volume{
				id: s.newID("vol"), seq: s.counter, az: az, volType: spec.volType, device: spec.device, snapshotID: spec.snapshot,
				sizeGiB: spec.size, iops: spec.iops, throughput: spec.through,
				deleteOnTermination: spec.dot, created: now, inst: in, tags: copyTags(volTags),
			}
			defaultVolumePerf(v)
			in.volumes = append(in.volumes, v)
			rg.volumes = append(rg.volumes, v)
			s.volByID[v.id] = v
		}
		rg.order = append(rg.order, in)
		s.byID[id] = in
		launched = append(launched, in)
	}
	if token != "" {
		rg.tokens[token] = &tokenRecord{params: params, reservation: resID, instances: launched}
	}
	return s.reservationXML(resID, launched, now), nil
}

func defaultVolumePerf(v *volume) {
	switch v.volType {
	case "gp3":
		if v.iops == 0 {
			v.iops = 3000
		}
		if v.throughput == 0 {
			v.throughput = 125
		}
	case "gp2":
		v.iops = max(100, min(16000, 3*v.sizeGiB))
		v.throughput = 0
	}
}

func base32ish(v uint64) string {
	const digits = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	for i := range b {
		b[i] = digits[v%36]
		v /= 36
	}
	return string(b[:])
}

func (s *Sim) newPublicIP() string {
	h := hash64("public-ip", strconv.FormatUint(s.nextCounter(), 10))
	return fmt.Sprintf("%d.%d.%d.%d", []int{3, 18, 34, 35, 44, 52, 54}[h%7], (h>>8)&0xff, (h>>16)&0xff, 1+(h>>24)%254)
}

func copyTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// canonicalParams is a stable rendering of a RunInstances request without its
// ClientToken, compared to detect IdempotentParameterMismatch.
func canonicalParams(form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		if k != "ClientToken" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.Join(form[k], ","))
		b.WriteByte('&')
	}
	return b.String()
}

func (s *Sim) reservationXML(resID string, ins []*instance, now time.Time) xmlReservation {
	r := xmlReservation{ReservationID: resID, OwnerID: AccountID}
	if len(ins) > 0 {
		r.Instances = make([]xmlInstance, len(ins))
		for i, in := range ins {
			r.Instances[i] = s.instanceXML(in, now)
		}
	}
	return r
}

// dnsName is EC2's DNS name for an address, built in one allocation: prefix, ip with
// dashes for dots, then ".region.domain", or ".eastDomain" in us-east-1, whose names
// predate regional ones (ip-172-31-0-11.us-west-2.compute.internal, ip-….ec2.internal).
func dnsName(prefix, ip, region, domain, eastDomain string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(ip) + len(region) + len(domain) + len(eastDomain) + 2)
	b.WriteString(prefix)
	for i := 0; i < len(ip); i++ {
		if c := ip[i]; c == '.' {
			b.WriteByte('-')
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('.')
	if region == "us-east-1" {
		b.WriteString(eastDomain)
	} else {
		b.WriteString(region)
		b.WriteByte('.')
		b.WriteString(domain)
	}
	return b.String()
}

// metadataFrom reads RunInstances' MetadataOptions, with EC2's defaults (tokens
// optional, endpoint enabled, hop limit 1), refusing values EC2 refuses.
func metadataFrom(c *call) (metadataOptions, *apiError) {
	m := metadataOptions{httpTokens: "optional", httpEndpoint: "enabled", hopLimit: 1}
	switch v := c.get("MetadataOptions.HttpTokens"); v {
	case "":
	case "optional", "required":
		m.httpTokens = v
	default:
		return m, badParam("Invalid value '%s' for HttpTokens. Valid values: optional, required.", v)
	}
	switch v := c.get("MetadataOptions.HttpEndpoint"); v {
	case "":
	case "enabled", "disabled":
		m.httpEndpoint = v
	default:
		return m, badParam("Invalid value '%s' for HttpEndpoint. Valid values: enabled, disabled.", v)
	}
	hop, ok, aerr := c.integer("MetadataOptions.HttpPutResponseHopLimit")
	if aerr != nil {
		return m, aerr
	}
	if ok {
		if hop < 1 || hop > 64 {
			return m, badParam("Invalid value '%d' for HttpPutResponseHopLimit. Valid values: 1 to 64.", hop)
		}
		m.hopLimit = hop
	}
	return m, nil
}

func (s *Sim) instanceXML(in *instance, now time.Time) xmlInstance {
	st := in.stateAt(now)
	x := xmlInstance{
		InstanceID: in.id, ImageID: in.imageID, State: stateXML(st),
		Reason: in.reason, KeyName: in.keyName, AmiLaunchIndex: in.launchIndex,
		InstanceType: in.typ, LaunchTime: fmtTime(in.launchTime),
		Placement:  xmlPlacement{AvailabilityZone: in.az, Tenancy: "default"},
		Monitoring: xmlMonitoring{State: "disabled"},
		SubnetID:   in.subnetID, VpcID: in.vpcID, PrivateIP: in.privateIP,
		SourceDestCheck: true, Architecture: in.arch, RootDeviceType: "ebs", RootDeviceName: in.rootDevice,
		SpotInstanceRequestID: in.spotRequestID, VirtualizationType: "hvm", ClientToken: in.clientToken,
		Tags: tagsXML(in.tags), Hypervisor: "xen", EbsOptimized: true, EnaSupport: true,
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
		MetadataOptions: &xmlMetadataOptions{State: "applied", HTTPTokens: in.metadata.httpTokens,
			HTTPEndpoint: in.metadata.httpEndpoint, HopLimit: in.metadata.hopLimit},
	}
	if st != StateTerminated {
		x.PrivateDNSName = dnsName("ip-", in.privateIP, in.region, "compute.internal", "ec2.internal")
	}
	switch st {
	case StatePending, StateRunning, StateStopping:
		x.PublicIP = in.publicIP
		x.DNSName = dnsName("ec2-", in.publicIP, in.region, "compute.amazonaws.com", "compute-1.amazonaws.com")
	}
	if in.spot {
		x.InstanceLifecycle = "spot"
	}
	if in.stateReasonCode != "" {
		x.StateReason = &xmlStateReason{Code: in.stateReasonCode, Message: in.stateReasonMsg}
	}
	if len(in.groups) > 0 {
		x.Groups = make([]xmlGroup, len(in.groups))
		for i, g := range in.groups {
			x.Groups[i] = xmlGroup{GroupID: g.id, GroupName: g.name}
		}
	}
	if in.profileArn != "" {
		x.IamInstanceProfile = &xmlProfile{Arn: in.profileArn, ID: in.profileID}
	}
	if _, gone := in.terminatedAt(now); !gone && len(in.volumes) > 0 {
		x.BlockDevices = make([]xmlBDM, len(in.volumes))
		for i, v := range in.volumes {
			x.BlockDevices[i] = xmlBDM{DeviceName: v.device, EBS: xmlEBS{
				VolumeID: v.id, Status: "attached", AttachTime: fmtTime(v.created), DeleteOnTermination: v.deleteOnTermination,
			}}
		}
	}
	return x
}

// --- DescribeInstances -------------------------------------------------------------

func (s *Sim) instanceFilterValues(in *instance, now time.Time) func(string) ([]string, bool) {
	one := func(v string) ([]string, bool) {
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	}
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return one(in.id)
		case "instance-state-name":
			return one(in.stateAt(now))
		case "instance-state-code":
			return one(strconv.Itoa(stateCodes[in.stateAt(now)]))
		case "instance-type":
			return one(in.typ)
		case "image-id":
			return one(in.imageID)
		case "key-name":
			return one(in.keyName)
		case "availability-zone":
			return one(in.az)
		case "vpc-id":
			return one(in.vpcID)
		case "subnet-id":
			return one(in.subnetID)
		case "private-ip-address":
			return one(in.privateIP)
		case "ip-address":
			switch in.stateAt(now) {
			case StatePending, StateRunning, StateStopping:
				return one(in.publicIP)
			}
			return nil, true
		case "reservation-id":
			return one(in.reservationID)
		case "client-token":
			return one(in.clientToken)
		case "instance-lifecycle":
			if in.spot {
				return one("spot")
			}
			return nil, true
		case "spot-instance-request-id":
			return one(in.spotRequestID)
		case "architecture":
			return one(in.arch)
		case "launch-time":
			return one(fmtTime(in.launchTime))
		case "owner-id":
			return one(AccountID)
		case "iam-instance-profile.arn":
			return one(in.profileArn)
		case "root-device-type":
			return one("ebs")
		case "root-device-name":
			return one(in.rootDevice)
		case "reason":
			return one(in.reason)
		case "state-reason-code":
			return one(in.stateReasonCode)
		case "ami-launch-index":
			return one(strconv.Itoa(in.launchIndex))
		case "instance.group-id", "group-id":
			var out []string
			for _, g := range in.groups {
				out = append(out, g.id)
			}
			return out, true
		case "instance.group-name", "group-name":
			var out []string
			for _, g := range in.groups {
				out = append(out, g.name)
			}
			return out, true
		case "block-device-mapping.volume-id":
			var out []string
			for _, v := range in.volumes {
				out = append(out, v.id)
			}
			return out, true
		}
		return tagFilterValues(in.tags, name)
	}
}

func (s *Sim) describeInstances(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("InstanceId")
	fs := c.filters()
	maxR, aerr := c.maxResults(5, 1000)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 && maxR > 0 {
		return nil, errf(400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	var page []*instance
	next := ""
	if len(ids) > 0 {
		ins, aerr := s.resolveInstances(rg, ids, now, s.faults.NotFoundWindow)
		if aerr != nil {
			return nil, aerr
		}
		for _, in := range ins {
			ok, aerr := matchFilters(fs, s.instanceFilterValues(in, now))
			if aerr != nil {
				return nil, aerr
			}
			if ok {
				page = append(page, in)
			}
		}
	} else {
		start := 0
		if tok := c.get("NextToken"); tok != "" {
			seq, aerr := parseToken("i", tok)
			if aerr != nil {
				return nil, aerr
			}
			start = rg.seqIndex(seq)
		}
		for i := start; i < len(rg.order); i++ {
			in := rg.order[i]
			if !in.visible(now) {
				continue
			}
			ok, aerr := matchFilters(fs, s.instanceFilterValues(in, now))
			if aerr != nil {
				return nil, aerr
			}
			if !ok {
				continue
			}
			if maxR > 0 && len(page) == maxR {
				next = makeToken("i", in.seq)
				break
			}
			page = append(page, in)
		}
	}
	if len(page) == 0 && len(fs) > 0 {
		if _, aerr := matchFilters(fs, s.instanceFilterValues(&instance{}, now)); aerr != nil {
			return nil, aerr
		}
	}
	// One array holds the page's instances; each reservation is a slice of it.
	xs := make([]xmlInstance, len(page))
	for i, in := range page {
		xs[i] = s.instanceXML(in, now)
	}
	out := xmlDescribeInstances{NextToken: next}
	for i := 0; i < len(page); {
		j := i + 1
		for j < len(page) && page[j].reservationID == page[i].reservationID {
			j++
		}
		out.Reservations = append(out.Reservations, xmlReservation{ReservationID: page[i].reservationID, OwnerID: AccountID,
			Instances: xs[i:j:j]})
		i = j
	}
	return out, nil
}

// --- Start / Stop / Terminate -------------------------------------------------------

func userInitiated(t time.Time) string {
	return "User initiated (" + t.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

const (
	reasonUserShutdown    = "Client.UserInitiatedShutdown"
	reasonUserShutdownMsg = "Client.UserInitiatedShutdown: User initiated shutdown"
)

func (s *Sim) changeState(rg *region, c *call, now time.Time,
	check func(in *instance, st string) (apply bool, err *apiError),
	apply func(in *instance, t time.Time)) (any, *apiError) {
	ids := c.list("InstanceId")
	if len(ids) == 0 {
		return nil, missing("InstanceId")
	}
	ins, aerr := s.resolveInstances(rg, ids, now, 0)
	if aerr != nil {
		return nil, aerr
	}
	prev := make([]string, len(ins))
	do := make([]bool, len(ins))
	for i, in := range ins {
		prev[i] = in.stateAt(now)
		ok, aerr := check(in, prev[i])
		if aerr != nil {
			return nil, aerr
		}
		do[i] = ok
	}
	t := now.Truncate(time.Second)
	var out xmlStateChanges
	for i, in := range ins {
		if do[i] {
			apply(in, t)
		}
		out.Instances = append(out.Instances, xmlStateChange{
			InstanceID: in.id, CurrentState: stateXML(in.stateAt(now)), PreviousState: stateXML(prev[i]),
		})
	}
	return out, nil
}

func (s *Sim) startInstances(rg *region, c *call, now time.Time) (any, *apiError) {
	return s.changeState(rg, c, now, func(in *instance, st string) (bool, *apiError) {
		switch st {
		case StateStopped:
			return true, nil
		case StatePending, StateRunning:
			return false, nil
		}
		return false, errf(400, "IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", in.id)
	}, func(in *instance, t time.Time) {
		in.transition(t, StatePending, PendingDuration, StateRunning)
		in.launchTime = t
		in.reason, in.stateReasonCode, in.stateReasonMsg = "", "", ""
		in.publicIP = s.newPublicIP()
	})
}

func (s *Sim) stopInstances(rg *region, c *call, now time.Time) (any, *apiError) {
	return s.changeState(rg, c, now, func(in *instance, st string) (bool, *apiError) {
		switch st {
		case StateRunning:
			if in.spot && !in.spotPersistent {
				return false, errf(400, "UnsupportedOperation", "You can't stop the Spot Instance '%s' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.", in.id)
			}
			return true, nil
		case StateStopping, StateStopped:
			return false, nil
		}
		return false, errf(400, "IncorrectInstanceState", "This instance '%s' is not in a state from which it can be stopped.", in.id)
	}, func(in *instance, t time.Time) {
		in.transition(t, StateStopping, StoppingDuration, StateStopped)
		in.reason = userInitiated(t)
		in.stateReasonCode, in.stateReasonMsg = reasonUserShutdown, reasonUserShutdownMsg
	})
}

func (s *Sim) terminateInstances(rg *region, c *call, now time.Time) (any, *apiError) {
	return s.changeState(rg, c, now, func(in *instance, st string) (bool, *apiError) {
		return st != StateShuttingDown && st != StateTerminated, nil
	}, func(in *instance, t time.Time) {
		in.transition(t, StateShuttingDown, ShuttingDownDuration, StateTerminated)
		in.reason = userInitiated(t)
		in.stateReasonCode, in.stateReasonMsg = reasonUserShutdown, reasonUserShutdownMsg
	})
}

// --- Tags ---------------------------------------------------------------------------

// taggable finds the tag map of a resource id in rg.
func (s *Sim) taggable(rg *region, id string, now time.Time) (map[string]string, *apiError) {
	switch {
	case strings.HasPrefix(id, "i-"):
		if !instanceIDPattern.MatchString(id) {
			return nil, errf(400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		in := s.byID[id]
		if in == nil || in.region != rg.name || !in.visible(now) {
			return nil, notFoundIDs("InvalidInstanceID.NotFound", "instance", []string{id})
		}
		return in.tags, nil
	case strings.HasPrefix(id, "vol-"):
		v := s.volByID[id]
		if v == nil || v.inst.region != rg.name || !v.exists(now) {
			return nil, errf(400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
		}
		return v.tags, nil
	case strings.HasPrefix(id, "key-"):
		for _, k := range rg.keyOrder {
			if k.id == id {
				return k.tags, nil
			}
		}
		return nil, errf(400, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
	}
	return nil, errf(400, "InvalidID", "The ID '%s' is not valid", id)
}

func (s *Sim) createTags(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("ResourceId")
	if len(ids) == 0 {
		return nil, missing("ResourceId")
	}
	tl, aerr := c.tags("Tag")
	if aerr != nil {
		return nil, aerr
	}
	if len(tl) == 0 {
		return nil, missing("Tag")
	}
	var maps []map[string]string
	for _, id := range ids {
		m, aerr := s.taggable(rg, id, now)
		if aerr != nil {
			return nil, aerr
		}
		n := len(m)
		for _, t := range tl {
			if _, ok := m[t.Key]; !ok {
				n++
			}
		}
		if n > 50 {
			return nil, errf(400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
		}
		maps = append(maps, m)
	}
	for _, m := range maps {
		for _, t := range tl {
			m[t.Key] = t.Value
		}
	}
	return xmlReturn{true}, nil
}

func (s *Sim) deleteTags(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("ResourceId")
	if len(ids) == 0 {
		return nil, missing("ResourceId")
	}
	var maps []map[string]string
	for _, id := range ids {
		m, aerr := s.taggable(rg, id, now)
		if aerr != nil {
			return nil, aerr
		}
		maps = append(maps, m)
	}
	idx := c.indices("Tag")
	for _, m := range maps {
		if len(idx) == 0 {
			for k := range m {
				delete(m, k)
			}
		}
		for _, n := range idx {
			p := "Tag." + strconv.Itoa(n)
			k := c.get(p + ".Key")
			if c.has(p+".Value") && m[k] != c.get(p+".Value") {
				continue
			}
			delete(m, k)
		}
	}
	return xmlReturn{true}, nil
}
