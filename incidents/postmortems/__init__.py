"""Postmortems: the Google SRE template drafted from an incident, reviewed, published, amended."""
