// Builds the shipped dashboard into ../inventory_cli/dashboard/static/: the dashboard (index.html,
// app.js, app.css) and the stores' upload page (upload.html, upload.js, upload.css). The output must be byte-for-byte reproducible (CI rebuilds it and compares with the
// committed copy), so: exact dependency versions from package-lock.json, no timestamps, no
// source maps, no absolute paths, and a fixed set of files (stale ones are removed).
import { build } from "esbuild";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = join(here, "..", "inventory_cli", "dashboard", "static");
const shipped = new Set(["index.html", "app.js", "app.css", "upload.html", "upload.js", "upload.css"]);

await mkdir(out, { recursive: true });
for (const name of await readdir(out)) {
  if (!shipped.has(name)) await rm(join(out, name), { recursive: true, force: true });
}

const common = {
  absWorkingDir: here, // paths in comments stay relative to dashboard/
  bundle: true,
  minify: true,
  legalComments: "eof", // keeps aws4fetch's MIT licence notice in the bundle
  charset: "utf8",
  target: ["es2022", "chrome100", "firefox100", "safari15"],
  logLevel: "warning",
};

await build({ ...common, entryPoints: ["src/app.js"], outfile: join(out, "app.js"), format: "esm", platform: "browser" });
await build({ ...common, entryPoints: ["src/app.css"], outfile: join(out, "app.css") });
await copyFile(join(src, "index.html"), join(out, "index.html"));
await build({ ...common, entryPoints: ["src/upload.js"], outfile: join(out, "upload.js"), format: "esm", platform: "browser" });
await build({ ...common, entryPoints: ["src/upload.css"], outfile: join(out, "upload.css") });
await copyFile(join(src, "upload.html"), join(out, "upload.html"));

console.log(`dashboard built into ${relative(here, out)}: ${[...shipped].join(", ")}`);
