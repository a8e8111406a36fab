"""A stand-in for GOV.UK One Login, for the demo and the tests (development only)."""
