// `make assets`: the stylesheets and the script the apps link to, compiled, fingerprinted and
// compressed once, at build time, so that no request compresses anything.
//
// For each asset: <name>-<hash>.<ext> (the first 16 hex digits of its SHA-256, so its URL changes
// whenever its bytes do and browsers may cache it for a year), the same file gzipped (.gz, level 9)
// and in brotli (.br, quality 11), and manifest.json mapping each logical name to its file.
// broker.web.assets serves them; nginx can serve the same directory (gzip_static).
//
//   node scripts/build-assets.mjs [OUTPUT_DIRECTORY]      (default broker/web/static)
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

import * as esbuild from "esbuild";
import * as sass from "sass";

const output = process.argv[2] ?? "broker/web/static";

function stylesheet(source) {
  return sass.compile(source, { loadPaths: ["node_modules"], style: "compressed", sourceMap: false }).css;
}

function script(entry) {
  // ES2020 modules: browsers that run type="module" scripts (GOV.UK Frontend's own baseline).
  const built = esbuild.buildSync({
    entryPoints: [entry], bundle: true, format: "esm", minify: true, write: false,
    target: "es2020", legalComments: "none", logLevel: "error",
  });
  return built.outputFiles[0].text;
}

function published(name) {
  // Without its source map comment: the map is not served under the fingerprinted name.
  return readFileSync(`node_modules/govuk-frontend/dist/govuk/${name}`, "utf8")
    .replace(/\n?\/\*# sourceMappingURL=\S+ \*\/\s*$/, "\n");
}

// Logical name -> its content. councils.css: the broker's and the demo council app's pages;
// govuk-frontend.css: GOV.UK's own stylesheet (GDS Transport), for the stub hub only.
const assets = {
  "councils.css": stylesheet("broker/web/styles/councils.scss"),
  "govuk-frontend.css": published("govuk-frontend.min.css"),
  "govuk-components.js": script("broker/web/scripts/govuk-components.mjs"),
};

mkdirSync(output, { recursive: true });
for (const old of readdirSync(output)) {
  if (/-[0-9a-f]{16}\.(css|js)(\.gz|\.br)?$/.test(old) || old === "manifest.json") {
    rmSync(join(output, old));
  }
}

const manifest = {};
for (const [name, text] of Object.entries(assets)) {
  const bytes = Buffer.from(text, "utf8");
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const dot = name.lastIndexOf(".");
  const file = `${name.slice(0, dot)}-${digest}${name.slice(dot)}`;
  writeFileSync(join(output, file), bytes);
  writeFileSync(join(output, `${file}.gz`), gzipSync(bytes, { level: 9 }));
  writeFileSync(join(output, `${file}.br`), brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }));
  manifest[name] = file;
}
writeFileSync(join(output, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
