// Runs the page's CSV checker (dashboard/src/csvcheck.js) on files given as base64 JSON on stdin
// and prints, per file, what it found, in the shape tests/browser/test_upload_page_csvcheck.py
// compares with lambda_src.inventory_csv.check_bytes.
//
// Input: [[base64, store or null], ...]; a store checks the file as that store's own upload.
// With --lines, one [base64, store or null] per input line and one result per output line, as
// they come (a property test keeps one Node process for all its examples).
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { checkBytes, InvalidFile } from "../../dashboard/src/csvcheck.js";

/** @param {string} encoded @param {string | null} store */
function check(encoded, store) {
  const bytes = new Uint8Array(Buffer.from(encoded, "base64"));
  try {
    const r = checkBytes(bytes, store === null ? {} : { store });
    return {
      rows: r.rows.map((row) => [row.line, row.store, row.item, row.count.toString()]),
      rejected: r.rejected.map((row) => [row.line, row.reason]),
      duplicates: r.duplicates.map((d) => [d.line, d.store, d.item, d.previousLine]),
      rows_read: r.rowsRead,
      header: r.header,
      empty_reason: r.emptyReason,
    };
  } catch (err) {
    if (!(err instanceof InvalidFile)) throw err;
    return { invalid: [err.line, err.reason, err.message] };
  }
}

if (process.argv.includes("--lines")) {
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const [encoded, store] = JSON.parse(line);
    process.stdout.write(JSON.stringify(check(encoded, store)) + "\n");
  }
} else {
  const files = JSON.parse(readFileSync(0, "utf8"));
  process.stdout.write(JSON.stringify(files.map(([encoded, store]) => check(encoded, store))));
}
