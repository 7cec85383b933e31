package iamsim

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"regexp"
	"strings"
	"time"
)

// maxMFADevicesPerUser is IAM's limit on MFA devices enabled for one user.
const maxMFADevicesPerUser = 8

// mfaDevice is a virtual MFA device. It belongs to the account, not to a user: enabling
// it assigns it to one user, deactivating it unassigns it, and only an unassigned device
// can be deleted.
type mfaDevice struct {
	serial  string // the device's ARN
	seed    string // base32 TOTP seed, handed out once by CreateVirtualMFADevice
	user    string // lower-cased name of the user it is enabled for, "" when unassigned
	enabled time.Time
}

var (
	mfaNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,226}$`)
	mfaSerialRE = regexp.MustCompile(`^[\w+=/:,.@-]{9,256}$`)
	authCodeRE  = regexp.MustCompile(`^\d{6}$`)
)

type xmlMFADevice struct {
	UserName     string `xml:"UserName"`
	SerialNumber string `xml:"SerialNumber"`
	EnableDate   string `xml:"EnableDate"`
}

// mfaSerial reads the required SerialNumber parameter.
func mfaSerial(c *call) (string, *apiError) {
	v := c.form.Get("SerialNumber")
	if v == "" {
		return "", validation("1 validation error detected: Value null at 'serialNumber' failed to satisfy constraint: Member must not be null")
	}
	if !mfaSerialRE.MatchString(v) {
		return "", validation("The specified value for 'serialNumber' is invalid.")
	}
	return v, nil
}

// createVirtualMFADevice creates an unassigned virtual MFA device whose serial number is
// its ARN, arn:aws:iam::ACCOUNT:mfa{Path}{VirtualMFADeviceName}.
func (s *Sim) createVirtualMFADevice(c *call) (any, *apiError) {
	name := c.form.Get("VirtualMFADeviceName")
	if !mfaNameRE.MatchString(name) {
		return nil, validation("The specified value for 'virtualMFADeviceName' is invalid.")
	}
	path, err := optionalPath(c, "Path", "/")
	if err != nil {
		return nil, err
	}
	serial := "arn:aws:iam::" + Account + ":mfa" + path + name
	if s.mfa[serial] != nil {
		return nil, alreadyExists("MFADevice entity at the same path and name already exists.")
	}
	seed := make([]byte, 40)
	_, _ = rand.Read(seed)
	d := &mfaDevice{serial: serial, seed: base32.StdEncoding.EncodeToString(seed)}
	s.mfa[serial] = d
	type device struct {
		SerialNumber     string `xml:"SerialNumber"`
		Base32StringSeed string `xml:"Base32StringSeed"` // a blob: base64 of the base32 seed
	}
	return struct {
		VirtualMFADevice device `xml:"VirtualMFADevice"`
	}{device{serial, base64.StdEncoding.EncodeToString([]byte(d.seed))}}, nil
}

// enableMFADevice assigns a virtual MFA device to a user. Any two six-digit codes are
// accepted: the simulator does not compute TOTP codes.
func (s *Sim) enableMFADevice(c *call) (any, *apiError) {
	u, err := s.user(c, "UserName")
	if err != nil {
		return nil, err
	}
	serial, err := mfaSerial(c)
	if err != nil {
		return nil, err
	}
	if !authCodeRE.MatchString(c.form.Get("AuthenticationCode1")) || !authCodeRE.MatchString(c.form.Get("AuthenticationCode2")) {
		return nil, &apiError{status: 403, code: "InvalidAuthenticationCode", msg: "Authentication code for device is not valid."}
	}
	d := s.mfa[serial]
	switch {
	case d == nil:
		return nil, noSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", serial)
	case d.user != "":
		return nil, alreadyExists("MFA Device is already in use.")
	case len(u.mfa) >= maxMFADevicesPerUser:
		return nil, &apiError{status: 409, code: "LimitExceeded", msg: "Cannot exceed quota for MFADevicesPerUser: 8"}
	}
	d.user, d.enabled = strings.ToLower(u.name), c.now
	u.mfa[serial] = d
	return nil, nil
}

// deactivateMFADevice unassigns a device from its user; the virtual device itself stays.
func (s *Sim) deactivateMFADevice(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	serial, err := mfaSerial(c)
	if err != nil {
		return nil, err
	}
	d := u.mfa[serial]
	if d == nil {
		return nil, noSuchEntity("MFA Device with serial number %s does not exist for user %s.", serial, u.name)
	}
	d.user, d.enabled = "", time.Time{}
	delete(u.mfa, serial)
	return nil, nil
}

// deleteVirtualMFADevice deletes an unassigned virtual MFA device. One still enabled for
// a user is refused with DeleteConflict (the message is the simulator's wording).
func (s *Sim) deleteVirtualMFADevice(c *call) (any, *apiError) {
	serial, err := mfaSerial(c)
	if err != nil {
		return nil, err
	}
	d := s.mfa[serial]
	if d == nil {
		return nil, noSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", serial)
	}
	if d.user != "" {
		return nil, deleteConflict("deactivate MFA device")
	}
	delete(s.mfa, serial)
	return nil, nil
}

// listMFADevices lists the devices enabled for a user, by serial number.
func (s *Sim) listMFADevices(c *call) (any, *apiError) {
	u, err := s.keyOwner(c)
	if err != nil {
		return nil, err
	}
	serials := sortedKeys(u.mfa)
	return listing(c, "MFADevices", serials, func(i int) xmlMFADevice {
		return xmlMFADevice{UserName: u.name, SerialNumber: serials[i], EnableDate: isoTime(u.mfa[serials[i]].enabled)}
	})
}
