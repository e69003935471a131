// Pure functions over rows: totals per item, what is low, chart scale. No DOM, no network.

import { compareNames } from "./dynamo.js";

/** @typedef {import("./dynamo.js").Row} Row */

/**
 * One line of the table and one bar of the chart.
 * @typedef {object} Line
 * @property {string} store  the store, or "All stores" for totals
 * @property {string} item
 * @property {number} count
 * @property {boolean} low  count at or below the threshold
 * @property {string[]} lowIn  (totals only) the stores where this item is low
 */

export const ALL_STORES = "All stores";

/**
 * @param {number} count
 * @param {number} threshold
 */
export const isLow = (count, threshold) => count <= threshold;

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
  /** @type {Map<string, {count: number, lowIn: string[]}>} */
  const byItem = new Map();
  for (const r of rows) {
    const entry = byItem.get(r.item) ?? { count: 0, lowIn: [] };
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
 * @returns {{store: string, items: {item: string, count: number}[], itemCount: number}[]}
 */
export function lowByStore(rows, threshold) {
  /** @type {Map<string, {items: {item: string, count: number}[], itemCount: number}>} */
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
 * Tick values for an axis from 0 that covers `max`: steps of 1, 2 or 5 times a power of ten.
 * @param {number} max
 * @param {number} [target]  about how many intervals
 * @returns {number[]}
 */
export function axisTicks(max, target = 5) {
  const top = Math.max(max, 1);
  const raw = top / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const wholeStep = Math.max(1, step); // counts are whole numbers: no 0.5 ticks
  const ticks = [];
  for (let v = 0; v < top + wholeStep; v += wholeStep) {
    ticks.push(v);
    if (v >= top) break;
  }
  return ticks;
}
