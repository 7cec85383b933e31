package broker

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"time"
)

// UserInfo is a Unix account as NSS reports it.
type UserInfo struct {
	Name   string
	UID    int
	Groups []string // names of every group the user is in, primary group included
}

// ErrNoSuchUser is returned by a UserDB for an account NSS does not know.
var ErrNoSuchUser = errors.New("no such user")

// UserDB resolves accounts through the system's name service. The default goes through
// os/user, which with cgo uses NSS, so LDAP and SSSD accounts work; tests inject a map.
type UserDB interface {
	LookupUID(uid int) (UserInfo, error)
	LookupName(name string) (UserInfo, error)
}

// OSUsers is the UserDB of the host, through os/user.
type OSUsers struct{}

// LookupUID resolves uid to its name and groups.
func (OSUsers) LookupUID(uid int) (UserInfo, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		var unk user.UnknownUserIdError
		if errors.As(err, &unk) {
			return UserInfo{}, fmt.Errorf("uid %d: %w", uid, ErrNoSuchUser)
		}
		return UserInfo{}, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	return osInfo(u)
}

// LookupName resolves a user name to its uid and groups.
func (OSUsers) LookupName(name string) (UserInfo, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unk user.UnknownUserError
		if errors.As(err, &unk) {
			return UserInfo{}, fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
		}
		return UserInfo{}, fmt.Errorf("look up user %q: %w", name, err)
	}
	return osInfo(u)
}

func osInfo(u *user.User) (UserInfo, error) {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return UserInfo{}, fmt.Errorf("user %s: uid %q is not a number", u.Username, u.Uid)
	}
	info := UserInfo{Name: u.Username, UID: uid}
	gids, err := u.GroupIds()
	if err != nil {
		return UserInfo{}, fmt.Errorf("groups of %s: %w", u.Username, err)
	}
	for _, gid := range gids {
		g, err := user.LookupGroupId(gid)
		if err != nil {
			continue // a gid without a name cannot match a configured group name
		}
		info.Groups = append(info.Groups, g.Name)
	}
	return info, nil
}

// cachedUsers keeps NSS answers briefly: an LDAP round trip per request would bound the
// daemon's throughput, and group changes taking ttl to show is acceptable.
type cachedUsers struct {
	next   UserDB
	now    func() time.Time
	byUID  *ttlCache[int, UserInfo]
	byName *ttlCache[string, UserInfo]
}

// maxCachedUsers bounds each of the NSS caches.
const maxCachedUsers = 10000

func newCachedUsers(next UserDB, ttl time.Duration, now func() time.Time) *cachedUsers {
	return &cachedUsers{next: next, now: now,
		byUID: newTTLCache[int, UserInfo](ttl, maxCachedUsers), byName: newTTLCache[string, UserInfo](ttl, maxCachedUsers)}
}

func (c *cachedUsers) LookupUID(uid int) (UserInfo, error) {
	now := c.now()
	if info, ok := c.byUID.get(uid, now); ok {
		return info, nil
	}
	info, err := c.next.LookupUID(uid)
	if err != nil {
		return UserInfo{}, err
	}
	c.put(info, now)
	return info, nil
}

func (c *cachedUsers) LookupName(name string) (UserInfo, error) {
	now := c.now()
	if info, ok := c.byName.get(name, now); ok {
		return info, nil
	}
	info, err := c.next.LookupName(name)
	if err != nil {
		return UserInfo{}, err
	}
	c.put(info, now)
	return info, nil
}

func (c *cachedUsers) put(info UserInfo, now time.Time) {
	c.byUID.put(info.UID, info, now)
	c.byName.put(info.Name, info, now)
}
