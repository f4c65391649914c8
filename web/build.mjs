// Builds the learner's web app into dist/ (or the folder given as `--outdir DIR`):
// app.js, app.css, index.html and THIRD-PARTY-LICENSES.txt.
//
// The output is deterministic: no source maps, no timestamps, no absolute paths, and the
// dependencies are pinned by package-lock.json, so two builds of one commit give the same
// bytes. `scripts/web.sh check` relies on that to compare a fresh build with the
// committed dist/.
import * as esbuild from "esbuild";
import { mkdir, readFile, writeFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf("--outdir");
const outdir = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(here, "dist"));
await mkdir(outdir, { recursive: true });

/**
 * CodeMirror styles itself through style-mod, which (since 4.1) puts a `<style>` element
 * in the document's head, and uses a constructed, adopted style sheet only in shadow
 * roots. The page's CSP (`style-src 'self'`, no 'unsafe-inline', no nonce) blocks that
 * element, so the editor would have no base styles. This one-line patch makes style-mod
 * take its adopted-sheet path in the document too (constructed sheets are CSSOM, which
 * CSP allows). The build fails if style-mod's code changes, so an upgrade gets reviewed.
 */
const adoptedStyleSheets = {
  name: "style-mod-adopted-sheets",
  setup(b) {
    b.onLoad({ filter: /[\\/]style-mod[\\/]src[\\/]style-mod\.js$/ }, async (args) => {
      const src = await readFile(args.path, "utf8");
      const from = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet)";
      if (!src.includes(from)) {
        throw new Error("style-mod changed: review the CSP patch in web/build.mjs");
      }
      return { contents: src.replace(from, "if (root.adoptedStyleSheets && win.CSSStyleSheet)"), loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: "none", // the licences go to THIRD-PARTY-LICENSES.txt instead
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
  write: false,
};

const js = await esbuild.build({
  ...common,
  entryPoints: ["src/main.ts"],
  outfile: path.join(outdir, "app.js"),
  format: "esm",
  platform: "browser",
  // Evergreen browsers only: the app is a module script and uses <dialog>.
  target: ["es2022", "chrome105", "firefox110", "safari16"],
  metafile: true,
  plugins: [adoptedStyleSheets],
  // CSP forbids eval; esbuild never emits it, and this keeps a dependency from
  // sneaking `process.env` checks in.
  define: { "process.env.NODE_ENV": '"production"' },
});
const css = await esbuild.build({
  ...common,
  entryPoints: ["src/styles.css"],
  outfile: path.join(outdir, "app.css"),
  target: ["chrome105", "firefox110", "safari16"],
});

for (const f of [...js.outputFiles, ...css.outputFiles]) {
  await writeFile(f.path, f.contents);
}
for (const name of ["index.html", "favicon.svg"]) {
  await writeFile(path.join(outdir, name), await readFile(path.join(here, name)));
}
await writeFile(path.join(outdir, "THIRD-PARTY-LICENSES.txt"), await licences(js.metafile));

/** The licence text of every npm package with code in app.js, sorted by name. */
async function licences(metafile) {
  const pkgs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) pkgs.add(m[1]);
  }
  let out =
    "Gauntlet's web app (app.js) bundles the following packages. Their licences follow.\n";
  for (const name of [...pkgs].sort()) {
    const dir = path.join(here, "node_modules", name);
    const meta = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8"));
    const file = (await readdir(dir)).sort().find((f) => /^(licen[cs]e|copying)/i.test(f));
    const text = file ? (await readFile(path.join(dir, file), "utf8")).trim() : `License: ${meta.license}`;
    out += `\n==== ${name}@${meta.version} (${meta.license})\n\n${text}\n`;
  }
  return out;
}
