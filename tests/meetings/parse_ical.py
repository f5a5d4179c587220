"""Reads a calendar from stdin with the `icalendar` package and prints what tests/meetings.rs checks, as JSON."""
import datetime
import json
import sys

import icalendar

calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())


def when(prop):
    if prop is None:
        return None
    value = prop.dt
    return value.isoformat()


events = []
for event in calendar.walk("VEVENT"):
    start = event.get("DTSTART")
    events.append({
        "uid": str(event.get("UID")),
        "summary": str(event.get("SUMMARY")),
        "dtstart": when(start),
        "dtstart_is_date": not isinstance(start.dt, datetime.datetime),
        "dtend": when(event.get("DTEND")),
        "dtstamp": when(event.get("DTSTAMP")),
        "sequence": int(event.get("SEQUENCE")),
        "status": str(event.get("STATUS")),
        "location": str(event["LOCATION"]) if "LOCATION" in event else None,
        "url": str(event["URL"]) if "URL" in event else None,
        "description": str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
    })
print(json.dumps({"name": str(calendar.get("X-WR-CALNAME")), "version": str(calendar.get("VERSION")), "events": events}))
