// Builds every MCP App into one self-contained HTML file (inline script and style, no network at run time)
// and the test host page. Deterministic: the same sources give the same bytes.
//
//   npm ci && npm run build        (from apps/)
//
// Each output records `sources-sha256`, a hash of everything that decides the build (see SOURCES);
// tests/apps/test_build.py recomputes it in Python (no Node needed) and fails when the committed build is stale.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import * as esbuild from "esbuild";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/ext-apps/app-bridge";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const BUDGET = 150 * 1024;

// [entry, css files, output (repo-relative), title]
const APPS = [
  ["review", ["shared/base.css", "review/review.css"], "server/apps/static/review.html", "Review before sending"],
  ["campaign-stats", ["shared/base.css", "shared/report.css"], "server/apps/static/campaign-stats.html", "Campaign funnel"],
  ["usage", ["shared/base.css", "shared/report.css"], "server/apps/static/usage.html", "Usage"],
  ["instance-health", ["shared/base.css", "shared/report.css"], "server/apps/static/instance-health.html", "Instance health"],
];
const HARNESS = ["harness", ["harness/harness.css"], "tests/apps/harness.html", "MCP Apps test host"];

// What decides the output. Keep in sync with SOURCE_FILES in tests/apps/test_build.py.
function sources() {
  const files = ["build.mjs", "package.json", "package-lock.json", "tsconfig.json", ".npmrc"];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(here, path).split(sep).join("/"));
    }
  };
  walk(join(here, "src"));
  return files.sort();
}

export function sourcesHash() {
  const hash = createHash("sha256");
  for (const file of sources()) {
    hash.update(file + "\0");
    hash.update(readFileSync(join(here, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

const sha256b64 = (text) => createHash("sha256").update(text, "utf8").digest("base64");

async function bundle(entry, cssFiles, { minify }) {
  const result = await esbuild.build({
    entryPoints: [join(here, "src", entry, "main.ts")],
    bundle: true,
    write: false,
    format: "iife",
    target: "es2020",
    minify,
    legalComments: "none",
    charset: "utf8",
    define: { __UI_PROTOCOL_VERSION__: JSON.stringify(LATEST_PROTOCOL_VERSION) },
    logLevel: "warning",
  });
  // An inline script ends at the first "</script": escape it wherever it occurs (strings, regexes).
  const js = result.outputFiles[0].text.replaceAll("</script", "<\\/script").trim();
  const cssSource = cssFiles.map((f) => readFileSync(join(here, "src", f), "utf8")).join("\n");
  const css = (await esbuild.transform(cssSource, { loader: "css", minify: true })).code.trim();
  return { js, css };
}

function page({ js, css }, title, hash, { withCsp = true } = {}) {
  // Hash-based CSP: only this exact script and style run; no fetch, no frame, no form, no remote image.
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${sha256b64(js)}'`,
    `style-src 'sha256-${sha256b64(css)}'`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    (withCsp ? `<meta http-equiv="Content-Security-Policy" content="${csp}">` : "") +
    `<meta name="msgflash-build" content="sources-sha256:${hash}">` +
    `<title>${title}</title><style>${css}</style></head>` +
    `<body><main id="app" aria-live="polite"></main><script>${js}</script></body></html>\n`
  );
}

async function main() {
  execFileSync(join(here, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", here], { stdio: "inherit" });
  const hash = sourcesHash();
  for (const [entry, css, out, title] of [...APPS, HARNESS]) {
    const isHarness = entry === "harness";
    // The test host has no CSP of its own: a srcdoc frame inherits its parent's policy, which would
    // block the view's script (hosts serve views from a separate origin; the view brings its own CSP).
    const html = page(await bundle(entry, css, { minify: true }), title, hash, { withCsp: !isHarness }).replace(
      '<main id="app" aria-live="polite"></main>',
      isHarness ? '<div id="host"></div>' : '<main id="app" aria-live="polite"></main>',
    );
    const size = Buffer.byteLength(html);
    if (!isHarness && size > BUDGET) throw new Error(`${out} is ${size} bytes, over the ${BUDGET}-byte budget`);
    mkdirSync(join(repo, dirname(out)), { recursive: true });
    writeFileSync(join(repo, out), html);
    console.log(`${out}  ${(size / 1024).toFixed(1)} KB`);
  }
}

await main();
