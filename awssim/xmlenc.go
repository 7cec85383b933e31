package awssim

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The hot responses (DescribeInstances, DescribeVolumes, and RunInstances, which shares
// DescribeInstances' reservation shape) are encoded by hand: encoding/xml's reflection
// costs far more CPU than the simulated work, and the simulator shares its process with
// the code under test. The output is byte for byte what encoding/xml writes for the same
// values (xmlenc_test.go compares the two on random values); every other action goes
// through encodeBodyReflect.

// encodeBody appends the child elements of a response body to b: by hand for the hot
// response shapes, into a buffer grown once up front, through encoding/xml for any other.
func encodeBody(b []byte, body any) ([]byte, error) {
	switch v := body.(type) {
	case xmlDescribeInstances:
		n := 0
		for i := range v.Reservations {
			n += len(v.Reservations[i].Instances)
		}
		return v.appendXML(slices.Grow(b, n*instanceXMLBytes)), nil
	case xmlReservation:
		return v.appendXML(slices.Grow(b, len(v.Instances)*instanceXMLBytes)), nil
	case xmlVolumes:
		return v.appendXML(slices.Grow(b, len(v.Volumes)*volumeXMLBytes)), nil
	}
	return encodeBodyReflect(b, body)
}

// instanceXMLBytes and volumeXMLBytes are a little more than one encoded instance (with
// a few tags) and volume take, so that a page's buffer is allocated once, not grown
// through a dozen copies.
const (
	instanceXMLBytes = 2560
	volumeXMLBytes   = 1024
)

// encodeBodyReflect appends body's child elements to b as encoding/xml renders them:
// the encoder for the rarely called actions, and the oracle the hand-written one is
// tested against.
func encodeBodyReflect(b []byte, body any) ([]byte, error) {
	// Encode under a throwaway element and keep only its children.
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).EncodeElement(body, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return nil, err
	}
	s := buf.Bytes()
	s = bytes.TrimPrefix(s, []byte("<x>"))
	s = bytes.TrimSuffix(s, []byte("</x>"))
	return append(b, s...), nil
}

// The append functions below write elements the way encoding/xml does: no
// indentation, no self-closing tags, text escaped by appendEscaped. They take and return
// the buffer, append style, so that it stays in registers: a buffer kept in a heap
// struct costs a GC write barrier per append.

// xmlElement is a value with a hand-written encoding of its child elements.
type xmlElement interface{ appendXML(b []byte) []byte }

// appendStart appends <name>.
func appendStart(b []byte, name string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	return append(b, '>')
}

// appendEnd appends </name>.
func appendEnd(b []byte, name string) []byte {
	b = append(b, '<', '/')
	b = append(b, name...)
	return append(b, '>')
}

// appendStr appends <name>v</name>, v escaped.
func appendStr(b []byte, name, v string) []byte {
	b = appendStart(b, name)
	b = appendEscaped(b, v)
	return appendEnd(b, name)
}

// appendStrOmit is appendStr for an omitempty field: nothing when v is empty.
func appendStrOmit(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendStr(b, name, v)
}

// appendInt appends <name>v</name>.
func appendInt(b []byte, name string, v int) []byte {
	b = appendStart(b, name)
	b = strconv.AppendInt(b, int64(v), 10)
	return appendEnd(b, name)
}

// appendIntOmit is appendInt for an omitempty field: nothing when v is 0.
func appendIntOmit(b []byte, name string, v int) []byte {
	if v == 0 {
		return b
	}
	return appendInt(b, name, v)
}

// appendBool appends <name>true</name> or <name>false</name>.
func appendBool(b []byte, name string, v bool) []byte {
	b = appendStart(b, name)
	b = strconv.AppendBool(b, v)
	return appendEnd(b, name)
}

// appendElem appends a nested struct: <name>its children</name>.
func appendElem(b []byte, name string, v xmlElement) []byte {
	b = appendStart(b, name)
	b = v.appendXML(b)
	return appendEnd(b, name)
}

// appendSet appends a field tagged `xml:"parent>item"`: the parent element, then one
// <item> per element. Like encoding/xml it writes the parent even for an empty or nil
// slice, omitempty or not (encoding/xml opens the parents of every non-pointer field).
func appendSet[T any, P interface {
	*T
	xmlElement
}](b []byte, parent string, items []T) []byte {
	b = appendStart(b, parent)
	for i := range items {
		b = appendElem(b, "item", P(&items[i]))
	}
	return appendEnd(b, parent)
}

// appendEscaped appends s to b escaped exactly as encoding/xml escapes text
// (EscapeText, and the encoder's EscapeString): the five markup characters as &amp;
// &lt; &gt; &#34; &#39;, tab and line breaks as &#x9; &#xA; &#xD;, and every byte of
// invalid UTF-8 or character outside XML's range as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !mayEscape[c] {
			i++
			continue
		}
		r, width := rune(c), 1
		if c >= utf8.RuneSelf {
			r, width = utf8.DecodeRuneInString(s[i:])
		}
		esc := escapeFor(r, width)
		i += width
		if esc == "" {
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}

// mayEscape marks the bytes that may start a sequence escapeFor replaces: ASCII control
// characters, the markup characters, and every non-ASCII byte (checked as UTF-8).
var mayEscape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range `"'&<>` {
		t[c] = true
	}
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = true
	}
	return t
}()

// escapeFor is the replacement encoding/xml writes for the rune r, decoded from width
// bytes, or "" to keep it.
func escapeFor(r rune, width int) string {
	switch r {
	case '"':
		return "&#34;"
	case '\'':
		return "&#39;"
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '\t':
		return "&#x9;"
	case '\n':
		return "&#xA;"
	case '\r':
		return "&#xD;"
	}
	if !isXMLChar(r) || (r == utf8.RuneError && width == 1) {
		return "\uFFFD"
	}
	return ""
}

// isXMLChar reports whether r is in XML's Char production (encoding/xml's
// isInCharacterRange).
func isXMLChar(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// --- DescribeInstances and RunInstances ------------------------------------------------

// appendXML appends the elements of a DescribeInstances body, in field order.
func (x *xmlDescribeInstances) appendXML(b []byte) []byte {
	b = appendSet(b, "reservationSet", x.Reservations)
	b = appendStrOmit(b, "nextToken", x.NextToken)
	return b
}

// appendXML appends the elements of a reservation, in field order.
func (x *xmlReservation) appendXML(b []byte) []byte {
	b = appendStr(b, "reservationId", x.ReservationID)
	b = appendStr(b, "ownerId", x.OwnerID)
	b = appendSet(b, "groupSet", x.Groups)
	b = appendSet(b, "instancesSet", x.Instances)
	return b
}

// appendXML appends the elements of an instance, in field order.
func (x *xmlInstance) appendXML(b []byte) []byte {
	b = appendStr(b, "instanceId", x.InstanceID)
	b = appendStr(b, "imageId", x.ImageID)
	b = appendElem(b, "instanceState", &x.State)
	b = appendStr(b, "privateDnsName", x.PrivateDNSName)
	b = appendStr(b, "dnsName", x.DNSName)
	b = appendStr(b, "reason", x.Reason)
	b = appendStrOmit(b, "keyName", x.KeyName)
	b = appendInt(b, "amiLaunchIndex", x.AmiLaunchIndex)
	b = appendStr(b, "instanceType", x.InstanceType)
	b = appendStr(b, "launchTime", x.LaunchTime)
	b = appendElem(b, "placement", &x.Placement)
	b = appendElem(b, "monitoring", &x.Monitoring)
	b = appendStr(b, "subnetId", x.SubnetID)
	b = appendStr(b, "vpcId", x.VpcID)
	b = appendStr(b, "privateIpAddress", x.PrivateIP)
	b = appendStrOmit(b, "ipAddress", x.PublicIP)
	b = appendBool(b, "sourceDestCheck", x.SourceDestCheck)
	b = appendSet(b, "groupSet", x.Groups)
	if x.StateReason != nil {
		b = appendElem(b, "stateReason", x.StateReason)
	}
	b = appendStr(b, "architecture", x.Architecture)
	b = appendStr(b, "rootDeviceType", x.RootDeviceType)
	b = appendStr(b, "rootDeviceName", x.RootDeviceName)
	b = appendSet(b, "blockDeviceMapping", x.BlockDevices)
	b = appendStrOmit(b, "instanceLifecycle", x.InstanceLifecycle)
	b = appendStrOmit(b, "spotInstanceRequestId", x.SpotInstanceRequestID)
	b = appendStr(b, "virtualizationType", x.VirtualizationType)
	b = appendStr(b, "clientToken", x.ClientToken)
	b = appendSet(b, "tagSet", x.Tags)
	b = appendStr(b, "hypervisor", x.Hypervisor)
	if x.IamInstanceProfile != nil {
		b = appendElem(b, "iamInstanceProfile", x.IamInstanceProfile)
	}
	b = appendBool(b, "ebsOptimized", x.EbsOptimized)
	b = appendBool(b, "enaSupport", x.EnaSupport)
	b = appendStr(b, "platformDetails", x.PlatformDetails)
	b = appendStr(b, "usageOperation", x.UsageOperation)
	if x.MetadataOptions != nil {
		b = appendElem(b, "metadataOptions", x.MetadataOptions)
	}
	return b
}

// appendXML appends the elements of an instance state, in field order.
func (x *xmlState) appendXML(b []byte) []byte {
	b = appendInt(b, "code", x.Code)
	b = appendStr(b, "name", x.Name)
	return b
}

// appendXML appends the elements of a placement, in field order.
func (x *xmlPlacement) appendXML(b []byte) []byte {
	b = appendStr(b, "availabilityZone", x.AvailabilityZone)
	b = appendStr(b, "groupName", x.GroupName)
	b = appendStr(b, "tenancy", x.Tenancy)
	return b
}

// appendXML appends the elements of a monitoring state, in field order.
func (x *xmlMonitoring) appendXML(b []byte) []byte {
	b = appendStr(b, "state", x.State)
	return b
}

// appendXML appends the elements of a security group, in field order.
func (x *xmlGroup) appendXML(b []byte) []byte {
	b = appendStr(b, "groupId", x.GroupID)
	b = appendStr(b, "groupName", x.GroupName)
	return b
}

// appendXML appends the elements of a state reason, in field order.
func (x *xmlStateReason) appendXML(b []byte) []byte {
	b = appendStr(b, "code", x.Code)
	b = appendStr(b, "message", x.Message)
	return b
}

// appendXML appends the elements of a block device mapping, in field order.
func (x *xmlBDM) appendXML(b []byte) []byte {
	b = appendStr(b, "deviceName", x.DeviceName)
	b = appendElem(b, "ebs", &x.EBS)
	return b
}

// appendXML appends the elements of a mapping's EBS volume, in field order.
func (x *xmlEBS) appendXML(b []byte) []byte {
	b = appendStr(b, "volumeId", x.VolumeID)
	b = appendStr(b, "status", x.Status)
	b = appendStr(b, "attachTime", x.AttachTime)
	b = appendBool(b, "deleteOnTermination", x.DeleteOnTermination)
	return b
}

// appendXML appends the elements of a tag, in field order.
func (x *xmlTag) appendXML(b []byte) []byte {
	b = appendStr(b, "key", x.Key)
	b = appendStr(b, "value", x.Value)
	return b
}

// appendXML appends the elements of an instance profile, in field order.
func (x *xmlProfile) appendXML(b []byte) []byte {
	b = appendStr(b, "arn", x.Arn)
	b = appendStr(b, "id", x.ID)
	return b
}

// appendXML appends the elements of metadata options, in field order.
func (x *xmlMetadataOptions) appendXML(b []byte) []byte {
	b = appendStr(b, "state", x.State)
	b = appendStr(b, "httpTokens", x.HTTPTokens)
	b = appendInt(b, "httpPutResponseHopLimit", x.HopLimit)
	b = appendStr(b, "httpEndpoint", x.HTTPEndpoint)
	return b
}

// --- DescribeVolumes -------------------------------------------------------------------

// appendXML appends the elements of a DescribeVolumes body, in field order.
func (x *xmlVolumes) appendXML(b []byte) []byte {
	b = appendSet(b, "volumeSet", x.Volumes)
	b = appendStrOmit(b, "nextToken", x.NextToken)
	return b
}

// appendXML appends the elements of a volume, in field order.
func (x *xmlVolume) appendXML(b []byte) []byte {
	b = appendStr(b, "volumeId", x.VolumeID)
	b = appendInt(b, "size", x.Size)
	b = appendStr(b, "snapshotId", x.SnapshotID)
	b = appendStr(b, "availabilityZone", x.AvailabilityZone)
	b = appendStr(b, "status", x.Status)
	b = appendStr(b, "createTime", x.CreateTime)
	b = appendSet(b, "attachmentSet", x.Attachments)
	b = appendSet(b, "tagSet", x.Tags)
	b = appendStr(b, "volumeType", x.VolumeType)
	b = appendIntOmit(b, "iops", x.Iops)
	b = appendIntOmit(b, "throughput", x.Throughput)
	b = appendBool(b, "encrypted", x.Encrypted)
	b = appendBool(b, "multiAttachEnabled", x.MultiAttach)
	return b
}

// appendXML appends the elements of a volume attachment, in field order.
func (x *xmlAttachment) appendXML(b []byte) []byte {
	b = appendStr(b, "volumeId", x.VolumeID)
	b = appendStr(b, "instanceId", x.InstanceID)
	b = appendStr(b, "device", x.Device)
	b = appendStr(b, "status", x.Status)
	b = appendStr(b, "attachTime", x.AttachTime)
	b = appendBool(b, "deleteOnTermination", x.DeleteOnTermination)
	return b
}
