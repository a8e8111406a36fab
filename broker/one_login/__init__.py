"""GOV.UK One Login as the broker's upstream: OpenID Connect with identity proving.

The One Login side of the house, beside `broker.hub` (Verify's SAML hub): it turns One Login's
answers into the same protocol-neutral `VerifiedIdentity` and never imports the OIDC provider side.
"""
