"""The SAML side: a service provider to the national identity hub (GOV.UK Verify's profile)."""

from broker.hub import saml_library

saml_library.install()
