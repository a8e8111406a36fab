"""The SAML side: a service provider to the national identity hub (GOV.UK Verify's profile)."""
