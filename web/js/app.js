/*
 * app.js - the dashboard's entry point: hash routing to one view at a time, the active tab, the
 * server status in the header (GET /healthz every 30 s) and the token button.
 *
 *   #/categories          view-categories.js
 *   #/category/<id>       view-category.js
 *   #/jobs                view-jobs.js
 *   #/job/<id>            view-job.js
 *   #/workers             view-workers.js
 *
 * A view is render(root, params) -> cleanup(); the cleanup stops its timers when the route
 * changes, so only the visible page polls the server.
 */
import { askToken, get, token } from './api.js';
import { fill, h } from './dom.js';
import * as categories from './view-categories.js';
import * as category from './view-category.js';
import * as job from './view-job.js';
import * as jobs from './view-jobs.js';
import * as workers from './view-workers.js';

const ROUTES = [
  { re: /^\/categories$/, view: categories, tab: 'categories', title: 'Categories' },
  { re: /^\/category\/([0-9a-zA-Z]+)$/, view: category, tab: 'categories', title: 'Category' },
  { re: /^\/jobs$/, view: jobs, tab: 'jobs', title: 'Jobs' },
  { re: /^\/job\/([0-9]+)$/, view: job, tab: 'jobs', title: 'Job' },
  { re: /^\/workers$/, view: workers, tab: 'workers', title: 'Workers' },
];

const root = document.getElementById('view');
let cleanup = null;

function route() {
  const path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/categories';
  if (cleanup) { try { cleanup(); } catch { /* a view's cleanup must not block the next */ } cleanup = null; }
  const r = ROUTES.find((x) => x.re.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', !!r && a.dataset.nav === r.tab);
  if (!r) {
    fill(root, h('div', { class: 'panel' }, h('h1', {}, 'Page not found'), h('p', {}, `Nothing at #${path}. `, h('a', { href: '#/categories' }, 'Go to the categories.'))));
    return;
  }
  const params = path.match(r.re).slice(1);
  document.title = `${r.title}${params[0] ? ` ${params[0]}` : ''} · fastrun`;
  window.scrollTo(0, 0);
  cleanup = r.view.render(root, params) || null;
}

const status = document.getElementById('server-status');
async function health() {
  try {
    const body = await get('/healthz');
    status.className = 'server-status ok';
    status.textContent = `server ${body.status || 'ok'}`;
    status.title = '';
  } catch (err) {
    status.className = 'server-status bad';
    status.textContent = err.status ? `server: ${err.status} ${err.code}` : 'server unreachable';
    status.title = `${err.message}${err.detail ? `: ${err.detail}` : ''}`;
  }
}

const tokenButton = document.getElementById('token-button');
function showToken() { tokenButton.textContent = token() ? 'token ✓' : 'token'; }
tokenButton.addEventListener('click', () => { askToken(); showToken(); });

window.addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/categories');
showToken();
route();
health();
setInterval(health, 30000);
