// Pure functions over rows: totals per item, what is low, chart scale. No DOM, no network.

import { compareNames } from "./dynamo.js";

/** @typedef {import("./dynamo.js").Row} Row */

/**
 * One line of the table and one bar of the chart.
 * @typedef {object} Line
 * @property {string} store  the store, or "All stores" for totals
 * @property {string} item
 * @property {bigint} count  exact (counts and their sums run past a number's 53 bits)
 * @property {boolean} low  count at or below the threshold
 * @property {string[]} lowIn  (totals only) the stores where this item is low
 */

export const ALL_STORES = "All stores";

/**
 * @param {bigint} count
 * @param {number} threshold
 */
export const isLow = (count, threshold) => count <= wholeThreshold(threshold);

/**
 * The threshold as a bigint to compare whole counts with: count <= 2.5 is count <= 2.
 * @param {number} threshold
 */
export const wholeThreshold = (threshold) => BigInt(Math.floor(threshold));

/** Ascending order of two bigints, for sort(). @param {bigint} a @param {bigint} b */
export const compareCounts = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rows of one store as lines, sorted by item.
 * @param {Row[]} rows
 * @param {number} threshold
 * @returns {Line[]}
 */
export function storeLines(rows, threshold) {
  return rows
    .map((r) => ({ store: r.store, item: r.item, count: r.count, low: isLow(r.count, threshold), lowIn: [] }))
    .sort((a, b) => compareNames(a.item, b.item));
}

/**
 * One line per item with the sum over every store, and where the item is low.
 * @param {Row[]} rows
 * @param {number} threshold
 * @returns {Line[]}
 */
export function totalLines(rows, threshold) {
  /** @type {Map<string, {count: bigint, lowIn: string[]}>} */
  const byItem = new Map();
  for (const r of rows) {
    const entry = byItem.get(r.item) ?? { count: 0n, lowIn: [] };
    entry.count += r.count;
    if (isLow(r.count, threshold)) entry.lowIn.push(r.store);
    byItem.set(r.item, entry);
  }
  return [...byItem.entries()]
    .map(([item, { count, lowIn }]) => ({
      store: ALL_STORES,
      item,
      count,
      low: isLow(count, threshold),
      lowIn: lowIn.sort(compareNames),
    }))
    .sort((a, b) => compareNames(a.item, b.item));
}

/**
 * Per store, the items at or below the threshold (stores with none are listed too, with []).
 * @param {Row[]} rows
 * @param {number} threshold
 * @returns {{store: string, items: {item: string, count: bigint}[], itemCount: number}[]}
 */
export function lowByStore(rows, threshold) {
  /** @type {Map<string, {items: {item: string, count: bigint}[], itemCount: number}>} */
  const byStore = new Map();
  for (const r of rows) {
    const entry = byStore.get(r.store) ?? { items: [], itemCount: 0 };
    entry.itemCount += 1;
    if (isLow(r.count, threshold)) entry.items.push({ item: r.item, count: r.count });
    byStore.set(r.store, entry);
  }
  return [...byStore.entries()]
    .map(([store, e]) => ({ store, itemCount: e.itemCount, items: e.items.sort((a, b) => compareNames(a.item, b.item)) }))
    .sort((a, b) => b.items.length - a.items.length || compareNames(a.store, b.store));
}

/**
 * Tick values for an axis from 0 that covers `max`: steps of 1, 2 or 5 times a power of ten,
 * exact at any size.
 * @param {bigint} max
 * @param {number} [target]  about how many intervals
 * @returns {bigint[]}
 */
export function axisTicks(max, target = 5) {
  const top = max > 1n ? max : 1n;
  const raw = (top + BigInt(target) - 1n) / BigInt(target); // counts are whole: no 0.5 ticks
  const power = 10n ** BigInt(raw.toString().length - 1);
  const step = [1n, 2n, 5n, 10n].map((m) => m * power).find((s) => s >= raw) ?? 10n * power;
  const ticks = [];
  for (let v = 0n; ; v += step) {
    ticks.push(v);
    if (v >= top) break;
  }
  return ticks;
}

/**
 * A count as people read it: exact, with thousands separators (BigInt's own toLocaleString).
 * @param {bigint | number} n
 */
export const formatCount = (n) => n.toLocaleString("en");

const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/**
 * A count in at most about `maxChars` characters: exact when it fits, otherwise its leading
 * digits times a power of ten ("1.23×10²⁷"), for labels with no room (the exact value is in
 * the table and the tooltip).
 * @param {bigint} n
 * @param {number} maxChars
 */
export function shortCount(n, maxChars) {
  const exact = n.toString();
  if (exact.length <= maxChars) return exact;
  const negative = exact.startsWith("-");
  const digits = negative ? exact.slice(1) : exact;
  const exponent = String(digits.length - 1).split("").map((d) => SUPERSCRIPT[Number(d)]).join("");
  const rest = digits.slice(1, 3).replace(/0+$/, "");
  const mantissa = rest ? `${digits[0]}.${rest}` : digits[0];
  return `${negative ? "-" : ""}${mantissa}×10${exponent}`;
}
