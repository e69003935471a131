// A horizontal bar chart in plain SVG: one bar per item, the axis from 0, low items marked by a
// tinted band, a red bar and a red value (so the marking does not rely on colour alone: the band
// and the bold value label carry it too). Every name is set with textContent.

import { axisTicks, formatCount, shortCount, wholeThreshold } from "./inventory.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 30;
const BAR = 18;
const TOP = 8;
const AXIS = 26;
const CHAR_PX = 7.8; // generous average width of a 13px sans-serif character (bold included)

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** @param {string} name @param {number} maxChars */
function shorten(name, maxChars) {
  return name.length <= maxChars ? name : name.slice(0, Math.max(1, maxChars - 1)) + "…";
}

/**
 * Draw the chart into `host` (replacing what was there).
 * @param {HTMLElement} host
 * @param {import("./inventory.js").Line[]} lines
 * @param {{threshold: number, title: string}} options
 */
export function renderChart(host, lines, { threshold, title }) {
  host.replaceChildren();
  if (!lines.length) return;
  const width = Math.max(280, Math.floor(host.clientWidth || 480));
  const longest = Math.max(...lines.map((l) => l.item.length));
  const labelWidth = Math.min(Math.round(width * 0.4), Math.max(60, Math.ceil(longest * CHAR_PX) + 12));
  // Room right of the longest bar for its value label: the exact count when a quarter of the
  // width holds it, else its short form (9 characters; the exact value is in the tooltip).
  const longestValue = Math.max(...lines.map((l) => l.count.toString().length));
  const valueChars = Math.min(longestValue, Math.max(9, Math.floor((width * 0.25 - 10) / CHAR_PX)));
  const valueRoom = Math.max(44, Math.ceil(valueChars * CHAR_PX) + 10);
  const plotLeft = labelWidth;
  const plotWidth = Math.max(60, width - plotLeft - valueRoom);
  const height = TOP + lines.length * ROW + AXIS;
  let max = wholeThreshold(threshold);
  for (const l of lines) if (l.count > max) max = l.count;
  const ticks = axisTicks(max);
  const axisMax = Number(ticks[ticks.length - 1]);
  // Positions only need a number's precision; every label shows the bigint itself.
  const x = (/** @type {bigint | number} */ v) => plotLeft + (Math.max(0, Number(v)) / axisMax) * plotWidth;
  // Tick labels share the width between them.
  const tickChars = Math.max(4, Math.floor(plotWidth / ticks.length / CHAR_PX));

  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-labelledby": "chart-svg-title",
    class: "chart",
  });
  svg.append(el("title", { id: "chart-svg-title" }, title));

  const grid = el("g", { class: "grid" });
  for (const t of ticks) {
    grid.append(el("line", { x1: x(t), x2: x(t), y1: TOP - 4, y2: TOP + lines.length * ROW }));
    grid.append(el("text", { x: x(t), y: height - 8, "text-anchor": "middle", class: "tick" }, shortCount(t, tickChars)));
  }
  svg.append(grid);

  lines.forEach((line, i) => {
    const y = TOP + i * ROW;
    // "warn": totals only; the sum is fine but the item is low in at least one store.
    const marking = line.low ? " low" : line.lowIn.length ? " warn" : "";
    const row = el("g", { class: `bar-row${marking}`, "data-item": line.item });
    if (marking) row.append(el("rect", { x: 0, y, width, height: ROW, class: "band" }));
    // The full name as the row's tooltip; the label itself may be shortened to fit.
    row.append(el("title", {}, `${line.item}: ${formatCount(line.count)}`));
    const maxChars = Math.floor((labelWidth - 12) / CHAR_PX);
    row.append(el("text", { x: plotLeft - 8, y: y + ROW / 2, "text-anchor": "end", "dominant-baseline": "central", class: "label" }, shorten(line.item, maxChars)));
    const barWidth = x(line.count) - plotLeft;
    row.append(el("rect", { x: plotLeft, y: y + (ROW - BAR) / 2, width: barWidth, height: BAR, rx: 2, class: "bar" }));
    row.append(el("text", { x: plotLeft + barWidth + 6, y: y + ROW / 2, "dominant-baseline": "central", class: "value" }, shortCount(line.count, valueChars)));
    svg.append(row);
  });

  // The zero line is drawn last so bars never hide it.
  svg.append(el("line", { x1: plotLeft, x2: plotLeft, y1: TOP - 4, y2: TOP + lines.length * ROW, class: "axis" }));
  if (threshold > 0) {
    svg.append(el("line", { x1: x(threshold), x2: x(threshold), y1: TOP - 4, y2: TOP + lines.length * ROW, class: "threshold" }));
  }
  host.append(svg);
}
