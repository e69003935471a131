// The inventory CSV contract, checked in the browser before anything is sent.
//
// A port of lambda_src/inventory_csv.py (the loader's and `inventory upload`'s rules): the same
// rows accepted, the same lines rejected, the reasons worded the same, character for character.
// tests/browser/test_upload_page_csvcheck.py runs both on one corpus and compares. Python's
// behaviour is copied where JavaScript differs: csv.reader's state machine (strict=False),
// str.strip()'s whitespace, repr() of strings and bytes, and where UTF-8 decoding fails.

export const REQUIRED_COLUMNS = ["store", "item", "count"];
// The largest names every part of the stack can hold, and the largest count whose sums still fit
// a DynamoDB number (lambda_src/inventory_csv.py says how they were worked out).
export const MAX_STORE_BYTES = 200;
export const MAX_ITEM_BYTES = 300;
export const MAX_COUNT_DIGITS = 28;
export const MAX_LINE_BYTES = 1024 * 1024;
export const CSV_FIELD_LIMIT = 131072; // Python's csv.field_size_limit() default
// The one rule for which files load, as lambda_src/inventory_csv.is_inventory_key holds it:
// `.csv` in any letter case (the stack's notification filter and the loader ask the same).
export const INVENTORY_SUFFIX = ".csv";

/** A file that cannot be loaded at all (Python's InvalidFile and its subclasses). */
export class InvalidFile extends Error {
  /**
   * @param {string} reason
   * @param {number | null} line
   */
  constructor(reason, line) {
    super(line === null ? reason : `line ${line}: ${reason}`);
    this.reason = reason;
    this.line = line;
  }
}

/**
 * @typedef {{line: number, store: string, item: string, count: bigint}} InventoryRow
 * @typedef {{line: number, reason: string, otherStore?: boolean}} RejectedRow
 * @typedef {{line: number, store: string, item: string, previousLine: number}} DuplicateRow
 * @typedef {{rows: InventoryRow[], rejected: RejectedRow[], duplicates: DuplicateRow[],
 *            rowsRead: number, header: string[] | null, emptyReason: string | null}} InventoryCheck
 */

// --- Python's string functions --------------------------------------------------------------

// Py_UNICODE_ISSPACE: what str.strip() removes. Not JavaScript's trim(), which also removes
// U+FEFF and keeps U+001C..U+001F and U+0085.
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's str.strip() with no argument. @param {string} text */
export function pyStrip(text) {
  let start = 0;
  let end = text.length;
  // Every Python whitespace character is in the BMP, so UTF-16 units are enough here.
  while (start < end && PY_SPACE.has(text.charCodeAt(start))) start++;
  while (end > start && PY_SPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

// Not printable for Python's repr(): these categories, except the plain space.
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** @param {number} code @param {number} width */
function hex(code, width) {
  return code.toString(16).padStart(width, "0");
}

/** Python's repr() of a str. @param {string} text */
export function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = /** @type {number} */ (ch.codePointAt(0));
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + hex(code, 2);
    else if (code < 0x7f || !NOT_PRINTABLE.test(ch)) out += ch;
    else if (code <= 0xff) out += "\\x" + hex(code, 2);
    else if (code <= 0xffff) out += "\\u" + hex(code, 4);
    else out += "\\U" + hex(code, 8);
  }
  return out + quote;
}

// Also escaped in names: combining marks, so that "é" and "e" + U+0301 never look alike.
const NOT_SHOWN_IN_NAMES = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Mn}\p{Mc}\p{Me}]$/u;

/**
 * A store or item name quoted for a message, as lambda_src/names.quoted_name does it: single
 * quotes, the quote and backslash escaped, every invisible or combining character as \xNN,
 * \uNNNN or \UNNNNNNNN.
 * @param {string} text
 */
export function quotedName(text) {
  let out = "'";
  for (const ch of text) {
    const code = /** @type {number} */ (ch.codePointAt(0));
    if (ch === "'" || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === " " || !NOT_SHOWN_IN_NAMES.test(ch)) out += ch;
    else if (code <= 0xff) out += "\\x" + hex(code, 2);
    else if (code <= 0xffff) out += "\\u" + hex(code, 4);
    else out += "\\U" + hex(code, 8);
  }
  return out + "'";
}

/** Python's repr() of one byte as bytes (b'\xe9'). @param {number} byte */
function pyBytesRepr(byte) {
  if (byte === 0x27) return `b"'"`;
  if (byte === 0x5c) return "b'\\\\'";
  if (byte === 0x09) return "b'\\t'";
  if (byte === 0x0a) return "b'\\n'";
  if (byte === 0x0d) return "b'\\r'";
  if (byte >= 0x20 && byte < 0x7f) return `b'${String.fromCharCode(byte)}'`;
  return `b'\\x${hex(byte, 2)}'`;
}

/** The length in code points, as Python's len(). @param {string} text */
function pyLen(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const encoder = new TextEncoder();

/** @param {string} text */
export function utf8Length(text) {
  return encoder.encode(text).length;
}

// --- UTF-8, line by line ------------------------------------------------------------------

/**
 * Where the first ill-formed UTF-8 sequence starts (the byte CPython's decoder names), or -1.
 * Well-formed sequences per the Unicode standard, table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF.
 * @param {Uint8Array} bytes
 */
export function firstInvalidUtf8(bytes) {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = i + k < n ? bytes[i + k] : -1;
      const [min, max] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (c < min || c > max) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Physical lines split at LF (each with its LF), decoded one by one, as the Python reader does.
 * @param {Uint8Array} bytes
 * @returns {Generator<string>}
 */
function* decodedLines(bytes) {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // the BOM is ours to remove
  let start = 0;
  let lineNo = 0;
  while (start < bytes.length) {
    const lf = bytes.indexOf(0x0a, start);
    const end = lf === -1 ? bytes.length : lf + 1;
    lineNo++;
    // A line with its LF may hold MAX_LINE_BYTES - 1 bytes before it; the last, unterminated
    // line MAX_LINE_BYTES (Python's reader checks the two cases so).
    const content = lf === -1 ? end - start : end - start - 1;
    if (lf === -1 ? content > MAX_LINE_BYTES : content >= MAX_LINE_BYTES) {
      throw new InvalidFile(`line is longer than ${MAX_LINE_BYTES} bytes`, lineNo);
    }
    const raw = bytes.subarray(start, end);
    const bad = firstInvalidUtf8(raw);
    if (bad !== -1) {
      throw new InvalidFile(
        `not valid UTF-8 (byte ${bad + 1} of the line: ${pyBytesRepr(raw[bad])}); save the file as UTF-8`,
        lineNo,
      );
    }
    let text = decoder.decode(raw);
    if (lineNo === 1 && text.startsWith("\ufeff")) text = text.slice(1);
    yield text;
    start = end;
  }
}

// --- Python's csv.reader (excel dialect, strict=False) ----------------------------------------

const START_RECORD = 0;
const START_FIELD = 1;
const IN_FIELD = 2;
const IN_QUOTED_FIELD = 3;
const QUOTE_IN_QUOTED_FIELD = 4;
const EAT_CRNL = 5;

const UNCLOSED_QUOTE_REASON =
  'a quoted value does not close on its line (a stray "?): a value may not span lines';
const CR_REASON =
  "carriage return (CR) inside an unquoted value: use LF or CRLF line endings, " +
  "and quote values that contain line breaks";
const FIELD_LIMIT_REASON = `a value is longer than ${CSV_FIELD_LIMIT} characters`;

/** A line that cannot be read as a row (the rest of the file still can). */
class RowError extends Error {}

/**
 * The fields of a line that holds a whole record without quotes or stray CRs (most lines), split
 * at commas: what the state machine below gives for it, only faster. null: take the slow path.
 * @param {string} line
 * @returns {string[] | null}
 */
function simpleRecord(line) {
  let content = line.endsWith("\n") ? line.slice(0, -1) : line;
  if (content.endsWith("\r")) content = content.slice(0, -1);
  if (/["\r\n]/.test(content)) return null;
  if (content === "") return [];
  const fields = content.split(",");
  // UTF-16 length >= code points: only a long value needs the exact count and error.
  if (fields.some((field) => field.length > CSV_FIELD_LIMIT)) return null;
  return fields;
}

/**
 * Records of the file, one per line: {fields, line}, or {error, line} for a line that cannot be
 * read as a record (a quote left open at its end, a value over the field limit). A port of
 * CPython's Modules/_csv.c parse_process_char / Reader_iternext, fed one line per record as
 * lambda_src/inventory_csv.py feeds it: a quoted value never continues on the next line.
 * @param {Iterable<string>} lines
 * @returns {Generator<{fields: string[], line: number} | {error: string, line: number}>}
 */
function* csvRecords(lines) {
  let line = 0;
  for (const text of lines) {
    line++;
    const simple = simpleRecord(text);
    if (simple) {
      yield { fields: simple, line };
      continue;
    }
    /** @type {string[]} */
    const fields = [];
    let field = "";
    let fieldLen = 0; // in code points, as Python counts
    let state = START_RECORD;
    const save = () => {
      fields.push(field);
      field = "";
      fieldLen = 0;
    };
    /** @param {string} ch */
    const add = (ch) => {
      if (fieldLen >= CSV_FIELD_LIMIT) throw new RowError(FIELD_LIMIT_REASON);
      field += ch;
      fieldLen++;
    };
    /** @param {string | null} c  null is the end of a line */
    const step = (c) => {
      switch (state) {
        case START_RECORD:
          if (c === null) return; // an empty line: the record []
          if (c === "\n" || c === "\r") {
            state = EAT_CRNL;
            return;
          }
          state = START_FIELD;
        // falls through: a normal character starts a field
        case START_FIELD:
          if (c === "\n" || c === "\r" || c === null) {
            save();
            state = c === null ? START_RECORD : EAT_CRNL;
          } else if (c === '"') state = IN_QUOTED_FIELD;
          else if (c === ",") save();
          else {
            add(c);
            state = IN_FIELD;
          }
          return;
        case IN_FIELD:
          if (c === "\n" || c === "\r" || c === null) {
            save();
            state = c === null ? START_RECORD : EAT_CRNL;
          } else if (c === ",") {
            save();
            state = START_FIELD;
          } else add(c);
          return;
        case IN_QUOTED_FIELD:
          if (c === null) return;
          if (c === '"') state = QUOTE_IN_QUOTED_FIELD;
          else add(c);
          return;
        case QUOTE_IN_QUOTED_FIELD:
          if (c === '"') {
            add(c);
            state = IN_QUOTED_FIELD;
          } else if (c === ",") {
            save();
            state = START_FIELD;
          } else if (c === "\n" || c === "\r" || c === null) {
            save();
            state = c === null ? START_RECORD : EAT_CRNL;
          } else {
            add(c);
            state = IN_FIELD;
          }
          return;
        case EAT_CRNL:
          if (c === "\n" || c === "\r") return;
          if (c === null) state = START_RECORD;
          else throw new InvalidFile(CR_REASON, line);
          return;
      }
    };
    try {
      for (const c of text) step(c);
      step(null);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      yield { error: err.message, line };
      continue;
    }
    // Only an open quote keeps the state machine from ending its record at the end of a line.
    if (state === IN_QUOTED_FIELD) yield { error: UNCLOSED_QUOTE_REASON, line };
    else yield { fields, line };
  }
}

// --- the contract ---------------------------------------------------------------------------

/** @param {string[]} fields */
function isBlank(fields) {
  return fields.length <= 1 && pyStrip(fields.join("")) === "";
}

/**
 * @param {string[]} header
 * @param {number} line
 * @returns {number[]} the positions of store, item, count
 */
function requiredColumns(header, line) {
  /** @type {Map<string, number>} */
  const positions = new Map();
  header.forEach((name, index) => {
    const key = pyStrip(name).toLowerCase();
    if (!positions.has(key)) positions.set(key, index); // the first of repeated names counts
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !positions.has(name));
  if (missing.length) {
    const stripped = header.map(pyStrip);
    const found = stripped.length ? stripped.map(pyRepr).join(", ") : "(nothing)";
    const plural = missing.length > 1 ? "s" : "";
    throw new InvalidFile(
      `missing column${plural} ${missing.join(", ")} (the header must name store, item and count; ` +
        `found: ${found})`,
      line,
    );
  }
  return REQUIRED_COLUMNS.map((name) => /** @type {number} */ (positions.get(name)));
}

// Unicode category Cc: C0 and C1 controls and DEL (inventory_csv.py: _CONTROL).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** @param {"store" | "item"} name @param {string} value */
function keyProblems(name, value) {
  if (!value) return [`${name} is empty`];
  const problems = [];
  const limit = name === "store" ? MAX_STORE_BYTES : MAX_ITEM_BYTES;
  // At most 3 UTF-8 bytes per UTF-16 unit: most names are judged without encoding them.
  if (value.length * 3 > limit) {
    const size = utf8Length(value);
    if (size > limit) problems.push(`${name} is ${size} bytes long in UTF-8 (at most ${limit})`);
  }
  const control = CONTROL.exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    problems.push(`${name} holds a control character (U+${code}), which no name may hold`);
  }
  return problems;
}

/**
 * One data row against the contract: the row, or the rejection with every reason.
 * @param {string[]} fields
 * @param {number[]} columns
 * @param {number} line
 * @returns {InventoryRow | RejectedRow}
 */
export function validateRow(fields, columns, line) {
  const values = [];
  const problems = [];
  for (let k = 0; k < REQUIRED_COLUMNS.length; k++) {
    const index = columns[k];
    if (index >= fields.length) {
      const s = fields.length !== 1 ? "s" : "";
      problems.push(`no ${REQUIRED_COLUMNS[k]} value (the row has ${fields.length} field${s})`);
      values.push("");
    } else {
      values.push(pyStrip(fields[index]));
    }
  }
  const [store, item, countText] = values;
  if (problems.length === 0) {
    problems.push(...keyProblems("store", store), ...keyProblems("item", item));
    if (!/^[0-9]+$/.test(countText)) {
      const shown = pyLen(countText) <= 40 ? pyRepr(countText) : pyRepr([...countText].slice(0, 40).join("")) + "...";
      problems.push(`count ${shown} is not a whole number >= 0`);
    } else {
      const digits = countText.replace(/^0+/, "").length;
      if (digits > MAX_COUNT_DIGITS) problems.push(`count has ${digits} digits (at most ${MAX_COUNT_DIGITS})`);
    }
  }
  if (problems.length) return { line, reason: problems.join("; ") };
  return { line, store, item, count: BigInt(countText) };
}

/**
 * The loader's reason for a row of another store in a store's own upload
 * (lambda_src/store_scope.py, other_store_reason).
 * @param {string} expected  the key's store
 * @param {string} found  the row's store
 */
export function otherStoreReason(expected, found) {
  return `row of store ${quotedName(found)}: this file was uploaded with the key of store ${quotedName(expected)}, which may change only its own stock`;
}

/**
 * Check a whole file. Throws InvalidFile if it cannot be loaded at all.
 * With `store` (a store's own upload), valid rows of any other store are rejected with the
 * loader's reason and marked `otherStore`, before duplicates are looked for, as the loader does.
 * @param {Uint8Array} bytes
 * @param {{store?: string}} [options]
 * @returns {InventoryCheck}
 */
export function checkBytes(bytes, { store } = {}) {
  /** @type {number[] | null} */
  let columns = null;
  /** @type {string[] | null} */
  let header = null;
  let rowsRead = 0;
  /** @type {RejectedRow[]} */
  const rejected = [];
  /** @type {DuplicateRow[]} */
  const duplicates = [];
  /** @type {Map<string, InventoryRow>} latest row per (store, item), in first-seen order */
  const latest = new Map();
  for (const record of csvRecords(decodedLines(bytes))) {
    const { line } = record;
    if ("error" in record) {
      // Before the header nothing can load: the whole file is refused, as the loader does.
      if (columns === null) throw new InvalidFile(record.error, line);
      rowsRead++;
      rejected.push({ line, reason: record.error });
      continue;
    }
    const { fields } = record;
    if (isBlank(fields)) continue;
    if (columns === null) {
      columns = requiredColumns(fields, line);
      header = fields.map(pyStrip);
      continue;
    }
    rowsRead++;
    let parsed = validateRow(fields, columns, line);
    if (store !== undefined && "store" in parsed && parsed.store !== store) {
      parsed = { line, reason: otherStoreReason(store, parsed.store), otherStore: true };
    }
    if (!("store" in parsed)) {
      rejected.push(parsed);
      continue;
    }
    const key = `${parsed.store.length}:${parsed.store}${parsed.item}`; // unambiguous, cheap
    const previous = latest.get(key);
    if (previous) duplicates.push({ line, store: parsed.store, item: parsed.item, previousLine: previous.line });
    latest.set(key, parsed); // the later row wins; Map keeps the first position
  }
  let emptyReason = null;
  if (header === null) emptyReason = "the file is empty";
  else if (rowsRead === 0) emptyReason = "the file has a header but no rows";
  return { rows: [...latest.values()], rejected, duplicates, rowsRead, header, emptyReason };
}

/**
 * Why `inventory upload` would refuse this file name, or null.
 * @param {string} name
 */
export function fileNameProblem(name) {
  if (name.toLowerCase().endsWith(INVENTORY_SUFFIX)) return null;
  return `the file name must end in ${INVENTORY_SUFFIX} (any letter case): the stack loads only those`;
}
