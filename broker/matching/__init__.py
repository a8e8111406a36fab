"""Matching verified residents to their council's local accounts (GOV.UK Verify's cycles).

`pipeline` runs the cycles for one council, `links` is the durable link store that makes the
next sign-in a cycle 0, `local_matching` talks to the council's matching service, and `views`
holds the cycle 3 page. See docs/architecture.md section 6.
"""
