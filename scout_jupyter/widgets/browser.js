// DatasetBrowser view. Rows come from Python (trait "rows"); filtering and sorting happen here so
// a keystroke never waits for the kernel (the same rules as catalogue.py). Actions are messages
// {action, id, name}; Python answers through "activity", "preview" and "clipboard".
// Every string from the manifest is set with textContent: it is data, never markup.

const COLUMNS = [
  { key: "id", label: "Dataset", sort: "id" },
  { key: "description", label: "Description", sort: "description", cls: "scout-col-desc" },
  { key: "date", label: "Date", sort: "date" },
  { key: "rows", label: "Rows", sort: "rows", num: true },
  { key: "size", label: "Size", sort: "size", num: true },
  { key: "schema_version", label: "Schema", sort: "schema_version", cls: "scout-col-schema" },
  { key: "cached", label: "Cached", sort: "cached", title: "Sort by cached locally" },
  { key: "freshness", label: "Freshness · modified", sort: "freshness_rank", title: "Sort by freshness" },
  { key: "modified", label: "", sort: "modified", hidden: true },
  { key: "actions", label: "", sort: null },
];
const PAGE = 60;  // rows put in the DOM at a time; scrolling adds more
const ICONS = { fresh: "✓", stale: "◔", overdue: "!", unknown: "?" };
const ATTENTION = new Set(["stale", "overdue", "unknown"]);

function h(tag, cls, text, props) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (props) Object.assign(node, props);  // element properties: type, value, title, ariaLabel, …
  return node;
}

export function badge(state, words, title) {
  const known = ICONS[state] ? state : "unknown";
  const span = h("span", `scout-badge scout-badge--${known}`);
  span.append(h("b", null, `${ICONS[known]} ${known}`), h("span", null, words));
  if (title) span.title = title;
  return span;
}

function button(label, action, title, primary) {
  const b = h("button", primary ? "scout-btn scout-btn--primary" : "scout-btn", label);
  b.type = "button";
  b.dataset.action = action;
  if (title) b.title = title;
  return b;
}

export function matches(row, words, layer, attention) {
  if (layer && row.layer !== layer) return false;
  if (attention && !ATTENTION.has(row.freshness)) return false;
  if (!words.length) return true;
  const hay = row._hay || (row._hay = `${row.id} ${row.description}`.toLowerCase());
  for (const w of words) if (!hay.includes(w)) return false;
  return true;
}

function compare(key, desc) {
  return (a, b) => {
    const x = a.row[key], y = b.row[key];
    let c = x < y ? -1 : x > y ? 1 : 0;
    if (desc) c = -c;
    return c || (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0);
  };
}

function render({ model, el }) {
  el.classList.add("scout-root", "scout-browser");
  const toolbar = h("div", "scout-toolbar");
  const search = h("input", null, null, { type: "search", placeholder: "Filter by id or description",
                                         ariaLabel: "Filter datasets", value: model.get("query") });
  const layer = h("select", null, null, { ariaLabel: "Layer" });
  for (const [value, label] of [["", "All layers"], ["gold", "gold"], ["platinum", "platinum"]]) {
    layer.append(h("option", null, label, { value }));
  }
  layer.value = model.get("layer");
  const attentionBox = h("input", null, null, { type: "checkbox", checked: model.get("attention") });
  const attention = h("label", null, null, { title: "Only stale, overdue or unknown datasets" });
  attention.append(attentionBox, document.createTextNode("Needs attention"));
  const refresh = button("↻ Refresh", "refresh", "Fetch the manifest again");
  const count = h("span", "scout-count");
  toolbar.append(search, layer, attention, refresh, count);
  const banner = h("div", "scout-banner");
  const scroll = h("div", "scout-scroll");
  const table = h("table", "scout-table");
  const thead = h("thead");
  const headRow = h("tr");
  const heads = {};
  for (const col of COLUMNS) {
    if (col.hidden) continue;
    const th = h("th", [col.num ? "scout-num" : "", col.cls || ""].join(" ").trim(), col.label);
    if (col.sort) { th.dataset.sort = col.sort; th.title = col.title || `Sort by ${col.label.toLowerCase()}`; }
    else th.classList.add("scout-nosort");
    heads[col.sort] = th;
    headRow.append(th);
  }
  thead.append(headRow);
  const tbody = h("tbody");
  table.append(thead, tbody);
  scroll.append(table);
  el.append(toolbar, banner, scroll);

  let entries = [];          // every dataset: {row, tr, detail, parts, open}; DOM built on first show
  let shownList = [];        // the filtered, sorted entries
  let limit = PAGE;          // how many of them are in the DOM (more on scrolling)
  const byId = new Map();
  const timers = new Map();  // rate-limit countdowns
  const more = h("tr", "scout-more");
  const moreCell = h("td", "scout-muted");
  moreCell.colSpan = COLUMNS.filter((c) => !c.hidden).length;
  more.append(moreCell);

  function buildRow(row) {
    const tr = h("tr", "scout-row");
    tr.dataset.id = row.id;
    const idCell = h("td");
    idCell.append(h("span", `scout-layer scout-layer--${row.layer}`, row.layer), h("span", "scout-id", row.name));
    idCell.title = row.id;
    const desc = h("td", "scout-desc scout-col-desc", row.description,
                   { title: `${row.description}\n(click for the full text and more actions)` });
    desc.dataset.action = "expand";
    const cached = h("td", "scout-cachedcell");
    const fresh = h("td");
    fresh.append(badge(row.freshness, row.freshness_words, `last modified ${row.modified_title}`));
    const actions = h("td");
    const box = h("div", "scout-actions");
    box.append(button("Load", "load", `Load into a variable (${row.name})`, true),
               button("⋯", "expand", "Preview, copy code, copy URL, load under another name"));
    actions.append(box);
    tr.append(idCell, desc, h("td", null, row.date), h("td", "scout-num", row.rows_text),
              h("td", "scout-num", row.size_text), h("td", "scout-col-schema", row.schema_version), cached, fresh,
              actions);
    return { tr, cachedCell: cached };
  }

  function rowOf(entry) {
    if (!entry.tr) {
      const built = buildRow(entry.row);
      entry.tr = built.tr;
      entry.cachedCell = built.cachedCell;
      setCached(entry);
    }
    return entry.tr;
  }

  function ensureDetail(entry) {
    if (entry.detail) return entry.parts;
    const detail = h("tr", "scout-detail");
    detail.dataset.id = entry.row.id;
    const td = h("td");
    td.colSpan = COLUMNS.filter((c) => !c.hidden).length;
    const desc = h("p", "scout-detail-desc", entry.row.description);
    const nameLine = h("div", "scout-line");
    const nameInput = h("input", null, null, { type: "text", value: entry.row.name, ariaLabel: "Variable name" });
    nameLine.append(h("span", "scout-muted", "Load as"), nameInput,
                    button("Load", "load", "Load into this variable", true),
                    h("span", "scout-sep"),
                    button("Preview", "preview", "First 20 rows and the typed schema"),
                    button("Copy code", "copy_code", `Copy %scout load ${entry.row.id}`),
                    button("Copy URL", "copy_url", "Copy a signed download URL, valid one hour"));
    const about = h("div", "scout-line scout-muted",
                    `${entry.row.id} · schema ${entry.row.schema_version} · modified ${entry.row.modified_title}`);
    const progress = h("progress", "scout-progress", null, { hidden: true });
    const status = h("div", "scout-line");
    const url = h("input", "scout-url", null, { type: "text", readOnly: true, hidden: true, ariaLabel: "Copied text" });
    url.addEventListener("focus", () => url.select());
    const preview = h("div", "scout-preview", null, { hidden: true });
    td.append(desc, nameLine, about, progress, status, url, preview);
    detail.append(td);
    entry.detail = detail;
    entry.parts = { nameInput, progress, status, url, preview };
    return entry.parts;
  }

  function openDetail(entry) {
    ensureDetail(entry);
    if (!entry.open) {
      entry.open = true;
      if (entry.tr && entry.tr.isConnected) entry.tr.after(entry.detail);
    }
  }

  function closeDetail(entry) {
    entry.open = false;
    if (entry.detail) entry.detail.remove();
  }

  function setCached(entry) {
    if (!entry.cachedCell) return;
    const c = entry.row.cached;
    entry.cachedCell.className = c ? "scout-cachedcell scout-cached" : "scout-cachedcell scout-muted";
    entry.cachedCell.textContent = c ? "● yes" : "—";
    entry.cachedCell.title = c ? "In the local cache: loads without the network" : "Not cached yet";
  }

  function rebuild() {
    const rows = model.get("rows");
    const same = (a, b) => ["modified", "date", "rows", "size", "description", "freshness_words", "schema_version"]
      .every((k) => a[k] === b[k]);
    if (rows.length === entries.length && rows.every((r) => byId.has(r.id) && same(byId.get(r.id).row, r))) {
      for (const r of rows) { const e = byId.get(r.id); e.row = r; setCached(e); }  // same catalogue: keep the DOM
      return;
    }
    for (const t of timers.values()) clearInterval(t);
    timers.clear();
    byId.clear();
    entries = rows.map((row) => {
      const e = { row, tr: null, detail: null, parts: null, cachedCell: null, open: false };
      byId.set(row.id, e);
      return e;
    });
    applySort();
    showActivity(true);
    showPreview();
  }

  function draw() {
    const frag = document.createDocumentFragment();
    const upto = Math.min(limit, shownList.length);
    for (let i = 0; i < upto; i++) {
      const e = shownList[i];
      frag.append(rowOf(e));
      if (e.open && e.detail) frag.append(e.detail);
    }
    if (upto < shownList.length) {
      moreCell.textContent = `${shownList.length - upto} more: scroll down, or filter`;
      frag.append(more);
    }
    tbody.replaceChildren(frag);
    count.textContent = `${shownList.length} of ${entries.length} datasets`;
  }

  function applyFilter() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const lay = layer.value, att = attentionBox.checked;
    shownList = entries.filter((e) => matches(e.row, words, lay, att));
    limit = PAGE;
    draw();
  }

  function applySort() {
    const key = model.get("sort_by"), desc = model.get("descending");
    const sortKey = (COLUMNS.find((c) => c.key === key) || { sort: key }).sort || "id";
    entries.sort(compare(sortKey, desc));
    for (const th of headRow.children) th.removeAttribute("aria-sort");
    if (heads[sortKey]) heads[sortKey].setAttribute("aria-sort", desc ? "descending" : "ascending");
    applyFilter();
  }

  function onScroll() {
    if (limit < shownList.length && scroll.scrollTop + scroll.clientHeight > scroll.scrollHeight - 200) {
      limit += PAGE;
      draw();
    }
  }

  function setStatus(entry, act) {
    rowOf(entry);
    openDetail(entry);
    const parts = entry.parts;
    const old = timers.get(entry.row.id);
    if (old) { clearInterval(old); timers.delete(entry.row.id); }
    parts.progress.hidden = !(act.state === "loading" && act.total);
    if (act.total) { parts.progress.max = act.total; parts.progress.value = act.done || 0; }
    parts.status.replaceChildren();
    const line = h("span", act.state === "error" ? "scout-error" : act.state === "done" ? "scout-ok" : "scout-muted",
                   act.text || "");
    parts.status.append(line);
    if (act.state === "done" && act.kind === "load") {
      const r = entry.row;
      parts.status.append(badge(r.freshness, r.freshness_words, `last modified ${r.modified_title}`));
    }
    parts.url.hidden = !act.copied;
    if (act.copied) parts.url.value = act.copied;
    const buttons = [...entry.tr.querySelectorAll("button"), ...entry.detail.querySelectorAll("button")];
    const busy = act.state === "loading";
    for (const b of buttons) b.disabled = busy;
    if (act.retry_at) {
      const tick = () => {
        const left = Math.ceil((act.retry_at - Date.now()) / 1000);
        if (left > 0) {
          line.textContent = `Rate limit exceeded: retry in ${left} s`;
          for (const b of buttons) if (b.dataset.action !== "copy_code") b.disabled = true;
        } else {
          line.textContent = "Rate limit over: you can retry now";
          for (const b of buttons) b.disabled = false;
          clearInterval(timers.get(entry.row.id));
          timers.delete(entry.row.id);
        }
      };
      tick();
      timers.set(entry.row.id, setInterval(tick, 1000));
    }
  }

  let shownActivity = {};
  function showActivity(all) {
    const now = model.get("activity");
    for (const [id, act] of Object.entries(now)) {
      const e = byId.get(id);
      if (e && (all === true || JSON.stringify(shownActivity[id]) !== JSON.stringify(act))) setStatus(e, act);
    }
    shownActivity = now;
  }

  function showPreview() {
    const p = model.get("preview");
    for (const e of entries) if (e.parts) e.parts.preview.hidden = true;
    const e = p && p.id ? byId.get(p.id) : null;
    if (!e) return;
    rowOf(e);
    openDetail(e);
    const parts = e.parts;
    const t = h("table");
    const hr = h("tr");
    for (const c of p.columns) {
      const th = h("th", null, c.name);
      th.append(h("small", null, c.type));
      th.title = `pandas dtype ${c.dtype}`;
      hr.append(th);
    }
    const thead = h("thead");
    thead.append(hr);
    const body = h("tbody");
    for (const r of p.rows) {
      const tr = h("tr");
      for (const cell of r) tr.append(h("td", null, cell));
      body.append(tr);
    }
    t.append(thead, body);
    parts.preview.replaceChildren(t);
    parts.preview.hidden = false;
  }

  function nameFor(entry) {
    return entry.parts ? entry.parts.nameInput.value.trim() : entry.row.name;
  }

  function onClick(ev) {
    const target = ev.target.closest("[data-action], th[data-sort]");
    if (!target || !el.contains(target)) return;
    if (target.tagName === "TH") {
      const key = target.dataset.sort;
      const col = COLUMNS.find((c) => c.sort === key);
      const same = model.get("sort_by") === col.key;
      model.set("sort_by", col.key);
      model.set("descending", same ? !model.get("descending") : false);
      model.save_changes();
      return;
    }
    const action = target.dataset.action;
    if (action === "refresh") { model.send({ action: "refresh" }); return; }
    const tr = target.closest("tr");
    const id = tr.dataset.id;
    const entry = byId.get(id);
    if (!entry) return;
    if (action === "expand") {
      if (entry.open && target.tagName === "BUTTON") closeDetail(entry);  // ⋯ toggles
      else openDetail(entry);
      return;
    }
    if (action === "load") {
      model.send({ action: "load", id, name: nameFor(entry) });
    } else {
      model.send({ action, id });
    }
  }

  function onClipboard() {
    const clip = model.get("clipboard");
    if (clip && clip.text && navigator.clipboard) {
      navigator.clipboard.writeText(clip.text).catch(() => {
        /* no permission (e.g. not focused): the text stays selectable in the row */
      });
    }
  }

  el.addEventListener("click", onClick);
  scroll.addEventListener("scroll", onScroll, { passive: true });
  search.addEventListener("input", () => { applyFilter(); model.set("query", search.value); model.save_changes(); });
  layer.addEventListener("change", () => { applyFilter(); model.set("layer", layer.value); model.save_changes(); });
  attentionBox.addEventListener("change", () => {
    applyFilter(); model.set("attention", attentionBox.checked); model.save_changes();
  });
  const onBanner = () => { banner.textContent = model.get("banner"); };
  const onQuery = () => {
    if (search.value !== model.get("query")) search.value = model.get("query");
    layer.value = model.get("layer");
    attentionBox.checked = model.get("attention");
    applyFilter();
  };
  const handlers = [["change:rows", rebuild], ["change:activity", showActivity], ["change:preview", showPreview],
    ["change:clipboard", onClipboard], ["change:banner", onBanner], ["change:sort_by", applySort],
    ["change:descending", applySort], ["change:query", onQuery], ["change:layer", onQuery],
    ["change:attention", onQuery]];
  for (const [name, fn] of handlers) model.on(name, fn);
  onBanner();
  rebuild();
  return () => {
    for (const [name, fn] of handlers) model.off(name, fn);
    for (const t of timers.values()) clearInterval(t);
  };
}

export default { render };
