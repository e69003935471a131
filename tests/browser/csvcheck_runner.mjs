// Runs the page's CSV checker (dashboard/src/csvcheck.js) on files given as base64 JSON on stdin
// and prints, per file, what it found, in the shape tests/browser/test_upload_page_csvcheck.py
// compares with lambda_src.inventory_csv.check_bytes.
import { readFileSync } from "node:fs";
import { checkBytes, InvalidFile } from "../../dashboard/src/csvcheck.js";

// Input: [[base64, store or null], ...]; a store checks the file as that store's own upload.
const files = JSON.parse(readFileSync(0, "utf8"));
const results = files.map(([encoded, store]) => {
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
});
process.stdout.write(JSON.stringify(results));
