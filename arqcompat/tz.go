package arqcompat

import (
	"sync"
	"time"
)

// This file maps the tzinfo objects apps pickle to Go locations, as data:
// a pickle names a zone, and the zone is looked up in the tz database
// (time.LoadLocation), never by running the class the pickle names.
// Layouts read with pickletools.dis (CPython 3.11, pydantic 2.14.4, pytz
// 2026.6, python-dateutil 4.0.0):
//
//	datetime.timezone         REDUCE datetime.timezone(timedelta[, name])
//	zoneinfo.ZoneInfo         REDUCE getattr(zoneinfo.ZoneInfo, '_unpickle')(key, 1)
//	pydantic_core.TzInfo      REDUCE pydantic_core._pydantic_core.TzInfo(offset_seconds)
//	pytz zones                REDUCE pytz._p(zone, utcoffset_s, dst_s, tzname), pytz._p(zone) for
//	                          a static zone, pytz._UTC() for pytz.utc
//	dateutil tzutc, tzoffset  REDUCE dateutil.tz.tz.tzutc(), tzoffset(name, timedelta)
//	dateutil tzfile (gettz)   REDUCE dateutil.tz._tzfile._unpickle(tzfile, key, filename, state)
//
// An aware datetime's bytes hold its wall clock in its zone, and the high
// bit of the month byte is PEP 495's fold, which picks the later of two
// instants a wall clock reads twice.

// zones caches time.LoadLocation by zone name, and remembers which
// locations are IANA zones by name (so that they go back to Python as
// zoneinfo.ZoneInfo). It is bounded; past the bound, lookups are not
// cached. It holds facts of the tz database, the same for every caller.
type zoneCache struct {
	mu     sync.Mutex
	byName map[string]*time.Location // nil: no such zone
	iana   map[*time.Location]string // "": not an IANA zone by name
}

const maxCachedZones = 1024

var zones = &zoneCache{byName: map[string]*time.Location{}, iana: map[*time.Location]string{}}

// validZoneName accepts the names the tz database uses: letters, digits,
// '/', '_', '-', '+', no "..", at most 64 bytes.
func validZoneName(name string) bool {
	if name == "" || len(name) > 64 || name == "Local" || name[0] == '/' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '_', c == '-', c == '+':
		case c == '.' && (i+1 >= len(name) || name[i+1] != '.'):
		default:
			return false
		}
	}
	return true
}

// loadZone returns the IANA zone of that name, or nil.
func loadZone(name string) *time.Location {
	if !validZoneName(name) {
		return nil
	}
	if name == "UTC" {
		return time.UTC
	}
	zones.mu.Lock()
	loc, ok := zones.byName[name]
	zones.mu.Unlock()
	if ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	zones.mu.Lock()
	if len(zones.byName) < maxCachedZones {
		zones.byName[name] = loc
		if loc != nil {
			zones.iana[loc] = name
		}
	}
	zones.mu.Unlock()
	return loc
}

// ianaName returns the key of zoneinfo.ZoneInfo for a location that is an
// IANA zone by name (time.LoadLocation("Europe/Paris"), or a zone decoded
// from a ZoneInfo, pytz or dateutil zone), or "" for UTC, Local and fixed
// zones (time.FixedZone, datetime.timezone).
func ianaName(loc *time.Location) string {
	if loc == time.UTC || loc == time.Local || loc == naiveLoc || loc == nil {
		return ""
	}
	zones.mu.Lock()
	name, ok := zones.iana[loc]
	zones.mu.Unlock()
	if ok {
		return name
	}
	name = loc.String()
	db := loadZone(name)
	if db == nil || !sameZone(loc, db) {
		name = ""
	}
	zones.mu.Lock()
	if len(zones.iana) < maxCachedZones {
		zones.iana[loc] = name
	}
	zones.mu.Unlock()
	return name
}

// sameZone tells a location loaded from the tz database from a fixed zone
// that happens to carry a zone's name: every IANA zone but the Etc ones
// has a local mean time before its first rule.
func sameZone(a, b *time.Location) bool {
	for _, at := range []time.Time{
		time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 7, 15, 0, 0, 0, 0, time.UTC),
	} {
		na, oa := at.In(a).Zone()
		nb, ob := at.In(b).Zone()
		if oa != ob || na != nb {
			return false
		}
	}
	return true
}

// wallTime is the instant a wall clock reads in loc; fold picks the later
// of two (PEP 495). A wall clock in a gap gets time.Date's choice.
func wallTime(year int, month time.Month, day, hour, min, sec, nsec int, loc *time.Location, fold bool) time.Time {
	t := time.Date(year, month, day, hour, min, sec, nsec, loc)
	if loc == time.UTC {
		return t
	}
	wall := time.Date(year, month, day, hour, min, sec, nsec, time.UTC)
	var first, last time.Time
	for _, probe := range []time.Duration{-24 * time.Hour, 0, 24 * time.Hour} {
		_, off := wall.Add(probe).In(loc).Zone()
		c := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if !sameWall(c, wall) {
			continue
		}
		if first.IsZero() || c.Before(first) {
			first = c
		}
		if last.IsZero() || c.After(last) {
			last = c
		}
	}
	switch {
	case first.IsZero():
		return t
	case fold:
		return last
	default:
		return first
	}
}

func sameWall(t, wall time.Time) bool {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	wy, wmo, wd := wall.Date()
	wh, wmi, ws := wall.Clock()
	return y == wy && mo == wmo && d == wd && h == wh && mi == wmi && s == ws
}

// isFold reports whether t is the later of two instants its wall clock
// reads in its location: Python's fold=1.
func isFold(t time.Time) bool {
	loc := t.Location()
	if loc == time.UTC {
		return false
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	first := wallTime(y, mo, d, h, mi, s, t.Nanosecond(), loc, false)
	return t.After(first)
}

// tzinfo is what a decoded tzinfo tells: the Go location, and for a zone
// pinned to one offset (pytz's localized zones), that offset.
type tzinfo struct {
	loc *time.Location
	// pinned is true when off is the datetime's UTC offset, as pytz stores
	// it next to the zone name.
	pinned bool
	off    int
}

// tzinfoOf maps a decoded tzinfo to a Go location: datetime.timezone,
// zoneinfo.ZoneInfo, pydantic_core.TzInfo, pytz and dateutil zones.
func tzinfoOf(tz any) (tzinfo, bool) {
	if loc, ok := zoneOf(tz); ok {
		return tzinfo{loc: loc}, true
	}
	o, ok := tz.(*Object)
	if !ok || o.NewObj {
		return tzinfo{}, false
	}
	str := func(i int) string {
		if i < len(o.Args) {
			s, _ := o.Args[i].(string)
			return s
		}
		return ""
	}
	switch o.Class {
	case Global{"zoneinfo", "ZoneInfo._unpickle"}, Global{"zoneinfo", "ZoneInfo"}, Global{"backports.zoneinfo", "ZoneInfo._unpickle"}:
		if loc := loadZone(str(0)); loc != nil {
			return tzinfo{loc: loc}, true
		}
	case Global{"pydantic_core._pydantic_core", "TzInfo"}, Global{"pydantic_core", "TzInfo"}:
		if len(o.Args) == 1 {
			if off, ok := o.Args[0].(int64); ok && off > -86400 && off < 86400 {
				if off == 0 {
					return tzinfo{loc: time.UTC}, true
				}
				return tzinfo{loc: time.FixedZone(utcOffsetName(time.Duration(off)*time.Second), int(off))}, true
			}
		}
	case Global{"pytz", "_UTC"}, Global{"dateutil.tz.tz", "tzutc"}, Global{"dateutil.tz", "tzutc"}:
		if len(o.Args) == 0 {
			return tzinfo{loc: time.UTC}, true
		}
	case Global{"pytz", "_p"}:
		loc := loadZone(str(0))
		if loc == nil {
			return tzinfo{}, false
		}
		if len(o.Args) >= 2 {
			if off, ok := o.Args[1].(int64); ok && off > -86400 && off < 86400 {
				return tzinfo{loc: loc, pinned: true, off: int(off)}, true
			}
		}
		return tzinfo{loc: loc}, true
	case Global{"dateutil.tz.tz", "tzoffset"}, Global{"dateutil.tz", "tzoffset"}:
		if len(o.Args) == 2 {
			var off time.Duration
			switch x := o.Args[1].(type) {
			case time.Duration:
				off = x
			case int64:
				off = time.Duration(x) * time.Second
			default:
				return tzinfo{}, false
			}
			if off%time.Second != 0 || off <= -24*time.Hour || off >= 24*time.Hour {
				return tzinfo{}, false
			}
			name := str(0)
			if name == "" {
				name = utcOffsetName(off)
			}
			return tzinfo{loc: time.FixedZone(name, int(off/time.Second))}, true
		}
	case Global{"dateutil.tz._tzfile", "_unpickle"}, Global{"dateutil.tz.tz", "tzfile"}:
		for i := range o.Args {
			if loc := loadZone(str(i)); loc != nil {
				return tzinfo{loc: loc}, true
			}
		}
	}
	return tzinfo{}, false
}
