// The JavaScript of every page (the broker, the stub hub, the demo council app): only the GOV.UK
// Frontend components whose `data-module` the templates use, bundled by `make assets`
// (scripts/build-assets.mjs, npm `esbuild`) instead of the whole library (47 KB, issue 26).
// Every page works without it; it adds what the Design System's components add: focus on the
// error summary, double-click protection on buttons, the skip link's focus, the radios' reveal
// and the service navigation's menu. A template that uses another data-module needs it here:
// tests/web/test_assets.py fails for any data-module this bundle does not start.
import { Button, createAll, ErrorSummary, Radios, ServiceNavigation, SkipLink } from "govuk-frontend";

for (const Component of [Button, ErrorSummary, Radios, ServiceNavigation, SkipLink]) {
  createAll(Component);
}
