"""The national identity services a resident proves themselves with, as plug-ins of one journey.

`interface` is what every upstream offers and what the journey offers back; `registry` is the one
place that builds the configured upstreams from configuration. The plug-ins themselves live in
their own packages (`broker.hub`, `broker.one_login`, ...) and import this package, never the
journey.
"""
