"""A stand-in for the national identity hub, for development and tests only."""
