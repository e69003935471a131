// Everything that touches the page. Data is only ever put in with textContent or attributes,
// never as HTML, so a store called `<img src=x onerror=alert(1)>` is shown as those characters.

import { renderChart } from "./chart.js";
import { ALL_STORES, compareCounts, formatCount } from "./inventory.js";

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 */
function h(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A big catalogue (5,000 items in a store) stays quick: the table shows one page of rows at a
// time, a search box narrows the lines, and the chart shows only the lowest CHART_MAX of them.
export const PAGE_SIZE = 100;
export const CHART_MAX = 40;

/**
 * The lines a search matches (case-insensitive, anywhere in the item name).
 * @param {import("./inventory.js").Line[]} lines
 * @param {string} query
 */
export function matching(lines, query) {
  const q = query.trim().toLocaleLowerCase();
  return q ? lines.filter((l) => l.item.toLocaleLowerCase().includes(q)) : lines;
}

/**
 * At most `max` lines for the chart: the lowest counts (what needs attention), in item order.
 * @param {import("./inventory.js").Line[]} lines
 * @param {number} max
 */
export function lowestLines(lines, max) {
  if (lines.length <= max) return lines;
  const keep = new Set([...lines].sort((a, b) => compareCounts(a.count, b.count) || (a.item < b.item ? -1 : 1)).slice(0, max));
  return lines.filter((l) => keep.has(l));
}

const formatNumber = formatCount;

/**
 * The children that show a count: its digits with a break opportunity (<wbr>) after each
 * thousands separator, so a 38-digit count wraps between groups on a narrow screen, never in
 * the middle of one (the text is the same, copied or read).
 * @param {bigint | number} n
 * @returns {(string | HTMLElement)[]}
 */
function countParts(n) {
  const groups = formatNumber(n).split(",");
  return groups.flatMap((group, i) => (i < groups.length - 1 ? [`${group},`, h("wbr")] : [group]));
}

/** @param {string[]} names */
function namesList(names, max = 3) {
  if (names.length <= max) return names.join(", ");
  return `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

export class View {
  constructor() {
    this.store = /** @type {HTMLSelectElement} */ (byId("store"));
    this.refresh = /** @type {HTMLButtonElement} */ (byId("refresh"));
    this.status = byId("status");
    this.notice = byId("notice");
    this.empty = byId("empty");
    this.content = byId("content");
    this.chart = byId("chart");
    /** @type {(() => void) | null} */
    this.redrawChart = null;
    /** @type {{lines: import("./inventory.js").Line[], where: string, threshold: number} | null} */
    this.shown = null;
    this.page = 0;
    this.search = /** @type {HTMLInputElement} */ (h("input"));
    this.search.type = "search";
    this.search.id = "item-search";
    this.search.placeholder = "Search items";
    this.search.setAttribute("aria-label", "Search items");
    this.pager = h("p", undefined, "pager");
    this.pager.id = "pager";
    const table = byId("inventory-table");
    table.before(this.search);
    table.after(this.pager);
    this.search.addEventListener("input", () => {
      this.page = 0;
      this.renderLines();
    });
    // Redraw the chart when its panel changes width (phone rotation, window resize).
    if (typeof ResizeObserver === "function") {
      let lastWidth = 0;
      new ResizeObserver(() => {
        const width = this.chart.clientWidth;
        if (width !== lastWidth) {
          lastWidth = width;
          this.redrawChart?.();
        }
      }).observe(this.chart);
    }
  }

  /** @param {string} text */
  setStatus(text, busy = false) {
    this.status.replaceChildren(text);
    this.refresh.disabled = busy;
    this.refresh.textContent = busy ? "Refreshing…" : "Refresh";
    this.refresh.setAttribute("aria-busy", String(busy));
  }

  /**
   * "Read at <time>" with a machine-readable timestamp.
   * @param {number} readAt  ms since the epoch
   * @param {number} everySeconds
   * @param {boolean} [stale]  the latest refresh failed: what is shown is older
   */
  setReadAt(readAt, everySeconds, stale = false) {
    const when = new Date(readAt);
    const time = h("time", when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
    time.setAttribute("datetime", when.toISOString());
    time.id = "read-at";
    this.status.replaceChildren(
      stale ? "Last refresh failed; showing data read at " : "Data read at ",
      time,
      ` · refreshes every ${everySeconds} s`,
    );
    this.refresh.disabled = false;
    this.refresh.textContent = "Refresh";
    this.refresh.setAttribute("aria-busy", "false");
  }

  /**
   * The store menu: "All stores" first, then every store (plus the selected one, even if it has
   * no rows any more, so the selection does not jump).
   * @param {string[]} stores
   * @param {string} selected  "" for all stores
   * @param {boolean} [allStores]  offer "All stores" (not to a member of only some stores)
   */
  setStores(stores, selected, allStores = true) {
    const names = selected && !stores.includes(selected) ? [...stores, selected] : stores;
    const options = allStores ? [h("option", ALL_STORES)] : [];
    if (allStores) /** @type {HTMLOptionElement} */ (options[0]).value = "";
    for (const name of names) {
      const option = /** @type {HTMLOptionElement} */ (h("option", name));
      option.value = name;
      options.push(option);
    }
    this.store.replaceChildren(...options);
    this.store.value = selected;
    this.store.disabled = false;
  }

  /**
   * @param {{title: string, reason: string, hint: string} | null} notice
   */
  setNotice(notice) {
    this.notice.hidden = !notice;
    if (!notice) return;
    byId("notice-title").textContent = notice.title;
    byId("notice-reason").textContent = notice.reason;
    const hint = byId("notice-hint");
    hint.textContent = notice.hint;
    hint.hidden = !notice.hint;
  }

  /**
   * @param {{table: string, store: string, local: boolean, stack: string | null}} context
   */
  showEmpty({ table, store, local, stack }) {
    this.content.hidden = true;
    this.redrawChart = null;
    this.shown = null;
    this.empty.hidden = false;
    byId("empty-title").textContent = store ? `No inventory for ${store}` : "No inventory yet";
    byId("empty-text").textContent = store
      ? `The table ${table} has no rows for this store. Choose another store, or upload its file.`
      : `The table ${table} has no rows yet.`;
    // Name the stack unless it is the default one, so the command loads into this table.
    const stackOption = stack && stack !== "inventory" ? ` --stack ${stack}` : "";
    byId("empty-command").textContent = `inventory${stackOption} upload inventory-berlin.csv`;
    byId("empty-local-command").textContent =
      `inventory${stackOption} --local upload inventory-berlin.csv`;
    byId("empty-local").hidden = !local;
  }

  /** The table page, the pager and the chart for the lines the search matches. */
  renderLines() {
    if (!this.shown) return;
    const { lines, where, threshold } = this.shown;
    const found = matching(lines, this.search.value);
    const pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
    this.page = Math.min(this.page, pages - 1);
    const first = this.page * PAGE_SIZE;
    const page = found.slice(first, first + PAGE_SIZE);
    byId("rows").replaceChildren(...page.map((line) => tableRow(line)));
    this.search.hidden = lines.length <= PAGE_SIZE;
    this.pager.replaceChildren();
    this.pager.hidden = found.length <= PAGE_SIZE && !this.search.value;
    if (!this.pager.hidden) {
      const previous = /** @type {HTMLButtonElement} */ (h("button", "Previous"));
      const next = /** @type {HTMLButtonElement} */ (h("button", "Next"));
      previous.type = next.type = "button";
      previous.id = "page-previous";
      next.id = "page-next";
      previous.disabled = this.page === 0;
      next.disabled = this.page >= pages - 1;
      previous.addEventListener("click", () => { this.page -= 1; this.renderLines(); });
      next.addEventListener("click", () => { this.page += 1; this.renderLines(); });
      const text = h("span", found.length
        ? `Rows ${formatNumber(first + 1)}–${formatNumber(first + page.length)} of ${formatNumber(found.length)}`
          + (found.length < lines.length ? ` matching (${formatNumber(lines.length)} in all)` : "")
        : "No item matches the search");
      text.id = "pager-text";
      this.pager.append(previous, text, next);
    }
    const charted = lowestLines(found, CHART_MAX);
    byId("chart-title").textContent = charted.length < found.length
      ? `Count per item: ${where}, the ${charted.length} lowest of ${formatNumber(found.length)}`
      : `Count per item: ${where}`;
    const chartTitle = `${where}: count per item, axis from 0`;
    this.redrawChart = () => renderChart(this.chart, charted, { threshold, title: chartTitle });
    this.redrawChart();
  }

  /**
   * @param {object} data
   * @param {import("./inventory.js").Line[]} data.lines
   * @param {string} data.store  "" for all stores
   * @param {number} data.threshold
   * @param {number} data.storeCount
   * @param {number} data.lowRows  all stores: store rows at or below the threshold
   * @param {{store: string, items: {item: string, count: bigint}[], itemCount: number}[]} data.lowStores
   * @param {number} data.skipped
   */
  showInventory({ lines, store, threshold, storeCount, lowRows, lowStores, skipped }) {
    this.empty.hidden = true;
    this.content.hidden = false;
    const all = store === "";
    const where = all ? ALL_STORES : store;

    byId("stat-items").textContent = formatNumber(lines.length);
    byId("stat-items-label").textContent = lines.length === 1 ? "item" : "items";
    byId("stat-units").replaceChildren(...countParts(lines.reduce((sum, l) => sum + l.count, 0n)));
    const low = all ? lowRows : lines.filter((l) => l.low).length;
    byId("stat-low").textContent = formatNumber(low);
    byId("stat-low-label").textContent = all
      ? `store items at or below ${threshold}`
      : `${low === 1 ? "item" : "items"} at or below ${threshold}`;
    byId("stat-low-box").classList.toggle("alert", low > 0);
    byId("stat-stores-box").hidden = !all;
    byId("stat-stores").textContent = formatNumber(storeCount);

    byId("table-title").textContent = all ? "Stock: totals over all stores" : `Stock: ${store}`;
    byId("table-caption").textContent =
      `${where}: count per item; rows at or below ${threshold} are marked low.` +
      (skipped ? ` ${skipped} row(s) without a numeric Count are not shown.` : "");
    byId("legend-text").textContent = `at or below the threshold (${threshold})`;
    byId("legend-warn").hidden = !lines.some((l) => !l.low && l.lowIn.length);
    const sameView = this.shown?.where === where;
    this.shown = { lines, where, threshold };
    if (!sameView) {
      // Another store: start from the first page with no search; a refresh keeps both.
      this.page = 0;
      this.search.value = "";
    }
    this.renderLines();

    const lowPanel = byId("low-stores");
    lowPanel.hidden = !all;
    if (all) byId("low-store-list").replaceChildren(...lowStores.map((s) => lowStoreItem(s, threshold)));
  }
}

/** @param {import("./inventory.js").Line} line */
function tableRow(line) {
  const tr = h("tr");
  tr.dataset.item = line.item;
  if (line.low) tr.className = "low";
  else if (line.lowIn.length) tr.className = "low-somewhere";
  tr.append(h("td", line.store));
  const itemCell = h("td");
  itemCell.append(h("span", line.item, "item-name"));
  if (line.lowIn.length) {
    itemCell.append(h("span", `low in ${namesList(line.lowIn)}`, "note"));
  }
  tr.append(itemCell);
  const countCell = h("td", undefined, "num");
  const count = h("span", undefined, "count");
  count.append(...countParts(line.count));
  countCell.append(count);
  if (line.low) countCell.append(h("span", "low", "badge"));
  tr.append(countCell);
  return tr;
}

/**
 * @param {{store: string, items: {item: string, count: bigint}[], itemCount: number}} entry
 * @param {number} threshold
 */
function lowStoreItem(entry, threshold) {
  const li = h("li");
  li.dataset.store = entry.store;
  li.className = entry.items.length ? "has-low" : "";
  const link = /** @type {HTMLAnchorElement} */ (h("a", entry.store, "store-link"));
  link.href = `#store=${encodeURIComponent(entry.store)}`;
  li.append(link);
  const text = entry.items.length
    ? `${entry.items.length} of ${entry.itemCount} at or below ${threshold}: ` +
      entry.items.map((i) => `${i.item} (${formatNumber(i.count)})`).join(", ")
    : `none of ${entry.itemCount} at or below ${threshold}`;
  li.append(h("span", text, "low-detail"));
  return li;
}
