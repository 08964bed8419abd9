/*
 * table.js - a paginated table for long lists (hundreds of categories, thousands of operators):
 * only one page of rows is in the DOM at a time. Columns have fixed widths (table-layout: fixed)
 * and cells stay on one line, so rows have one height and the page does not move when data
 * arrives. A row may open a detail row below it (click or Enter), e.g. the bar chart of an
 * operator's candidates.
 *
 *   const t = createTable({columns, rowKey, detail, pageSize, empty});
 *   container.append(t.el); t.loading(); ... t.setRows(rows); t.error(node);
 * columns: [{label, width: '30%', cls, render(row) -> node | string, title(row) -> string}]
 */
import { fmtInt, h, fill, skeleton } from './dom.js';

export function createTable(opts) {
  const { columns, rowKey, detail } = opts;
  let pageSize = opts.pageSize || 50;
  let rows = [];
  let page = 0;
  const open = new Set();

  const colgroup = h('colgroup', {}, columns.map((c) => h('col', { style: c.width ? `width:${c.width}` : null })));
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.cls, scope: 'col', title: c.help }, c.label))));
  const tbody = h('tbody');
  const table = h('table', { class: `grid${detail ? ' clickable' : ''}` }, colgroup, thead, tbody);
  const info = h('span', { class: 'pager-info' });
  const btn = (label, title, fn) => h('button', { type: 'button', class: 'pager-btn', title, onclick: fn }, label);
  const first = btn('«', 'first page', () => go(0));
  const prev = btn('‹ Prev', 'previous page', () => go(page - 1));
  const next = btn('Next ›', 'next page', () => go(page + 1));
  const last = btn('»', 'last page', () => go(Infinity));
  const sizeSel = h('select', { class: 'pager-size', 'aria-label': 'rows per page',
    onchange: (e) => { pageSize = Number(e.target.value); go(0); } },
  [25, 50, 100, 200].map((n) => h('option', { value: n, selected: n === pageSize }, `${n} / page`)));
  const buttons = h('span', { class: 'pager-buttons' }, first, prev, next, last, sizeSel);
  const pager = h('div', { class: 'pager' }, info, buttons);
  const el = h('div', { class: 'table-wrap' }, table, pager);

  function pages() { return Math.max(1, Math.ceil(rows.length / pageSize)); }

  function go(p) {
    page = Math.min(Math.max(0, p), pages() - 1);
    draw();
    /* a person paging from the bottom of a long page wants to read the new page from its top */
    if (el.getBoundingClientRect().top < 0) el.scrollIntoView({ block: 'start' });
  }

  function toggle(row, tr) {
    const k = rowKey(row);
    if (open.has(k)) {
      open.delete(k);
      const d = tr.nextSibling;
      if (d && d.classList.contains('detail-row')) d.remove();
      tr.setAttribute('aria-expanded', 'false');
    } else {
      open.add(k);
      tr.after(detailRow(row));
      tr.setAttribute('aria-expanded', 'true');
    }
  }

  function detailRow(row) {
    return h('tr', { class: 'detail-row' }, h('td', { colspan: columns.length }, detail(row)));
  }

  function draw() {
    const start = page * pageSize;
    const slice = rows.slice(start, start + pageSize);
    tbody.replaceChildren();
    if (!rows.length) tbody.append(h('tr', { class: 'empty-row' }, h('td', { colspan: columns.length }, opts.empty || 'Nothing to show.')));
    for (const row of slice) {
      const tr = h('tr', { class: 'data-row', dataset: { key: rowKey(row) } },
        columns.map((c) => h('td', { class: c.cls, title: c.title ? c.title(row) : null }, c.render(row))));
      if (detail) {
        tr.tabIndex = 0;
        tr.setAttribute('aria-expanded', 'false');
        tr.addEventListener('click', (e) => { if (!e.target.closest('a,button,input,select')) toggle(row, tr); });
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(row, tr); } });
      }
      tbody.append(tr);
      if (detail && open.has(rowKey(row))) {
        tr.setAttribute('aria-expanded', 'true');
        tbody.append(detailRow(row));
      }
    }
    const end = Math.min(rows.length, start + pageSize);
    fill(info, rows.length ? `${fmtInt(start + 1)}–${fmtInt(end)} of ${fmtInt(rows.length)}` : '0 rows',
      pages() > 1 ? ` · page ${page + 1} of ${pages()}` : '');
    buttons.style.visibility = pages() > 1 || pageSize > 25 && rows.length > 25 ? 'visible' : 'hidden';
    first.disabled = prev.disabled = page === 0;
    next.disabled = last.disabled = page >= pages() - 1;
  }

  return {
    el,
    /* Shows placeholder rows of the final height while data loads. */
    loading(n = 8) {
      tbody.replaceChildren(...Array.from({ length: n }, () =>
        h('tr', { class: 'loading-row' }, columns.map(() => h('td', {}, skeleton(1))))));
      fill(info, 'loading…');
      for (const b of [first, prev, next, last]) b.disabled = true;
      buttons.style.visibility = 'hidden';
    },
    /* New rows (kept page when keepPage and still valid). */
    setRows(newRows, keepPage = false) {
      rows = newRows;
      page = keepPage ? Math.min(page, pages() - 1) : 0;
      draw();
    },
    error(node) {
      tbody.replaceChildren(h('tr', { class: 'error-row' }, h('td', { colspan: columns.length }, node)));
      fill(info, '');
    },
    get rows() { return rows; },
  };
}
