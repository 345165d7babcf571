// The Moose console: a single page over the public API.
//
// Rules this file keeps: the access token lives only in memory (the refresh token is an
// httpOnly cookie the page never sees); every text from the API goes into the page as text
// (never parsed as HTML), so data cannot inject markup; nothing inline, so the CSP can forbid it; each
// page shows only what the API returned for this user, and write controls only to roles the
// API would let write.
'use strict';

(() => {
  // ---------------------------------------------------------------- state and formatting
  const session = { token: null, expiresAt: 0, me: null, access: null };
  const ROLE_RANK = { viewer: 0, technician: 1, fleet_manager: 2, admin: 3 };
  const STATE_LABEL = {
    ok: 'OK', faulty: 'Fault', offline: 'Offline', not_producing: 'Not producing',
    underperforming: 'Underperforming', maintenance: 'Maintenance', unknown: 'Unknown',
  };
  const STATE_ORDER = ['faulty', 'offline', 'not_producing', 'underperforming', 'maintenance', 'unknown', 'ok'];
  const KIND_LABEL = {
    no_data: 'No data', device_error: 'Device error', zero_production: 'Zero production',
    underperformance: 'Underperformance', upstream_outage: 'Upstream outage',
  };

  /** The user's time zone: the profile's when set to something other than the default, else the browser's. */
  const timeZone = () => {
    const tz = session.me && session.me.time_zone;
    return tz && tz !== 'UTC' ? tz : Intl.DateTimeFormat().resolvedOptions().timeZone;
  };
  // Formatters are costly to build and a fleet page formats thousands of figures: one each.
  const numberFormats = new Map();
  const num = (v, digits = 0) => {
    if (v == null || Number.isNaN(v)) return '—';
    if (!numberFormats.has(digits)) {
      numberFormats.set(digits, new Intl.NumberFormat(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits }));
    }
    return numberFormats.get(digits).format(v);
  };
  /** Energy in Wh as kWh (or MWh from 10 MWh), with thousands separators. */
  const energy = (wh) => {
    if (wh == null) return '—';
    return Math.abs(wh) >= 1e7 ? `${num(wh / 1e6, 1)} MWh` : `${num(wh / 1000, 1)} kWh`;
  };
  const pct = (v) => v == null ? '—' : `${num(v * 100, 0)} %`;
  const dateFormats = new Map();
  const when = (iso) => {
    if (!iso) return '—';
    const tz = timeZone();
    if (!dateFormats.has(tz)) dateFormats.set(tz, new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: tz }));
    return dateFormats.get(tz).format(new Date(iso));
  };
  const age = (secs) => {
    if (secs == null) return 'no data';
    if (secs < 90) return `${num(secs)} s ago`;
    if (secs < 5400) return `${num(secs / 60)} min ago`;
    if (secs < 172800) return `${num(secs / 3600, 1)} h ago`;
    return `${num(secs / 86400, 1)} days ago`;
  };
  const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const addDays = (day, n) => { const d = new Date(`${day}T12:00:00`); d.setDate(d.getDate() + n); return isoDay(d); };

  // ---------------------------------------------------------------- DOM helpers
  /** `h('a', {href: '#/x', class: 'c'}, 'text', child)`: an element; strings become text nodes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    for (const c of children.flat(Infinity)) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }
  const $ = (sel) => document.querySelector(sel);
  const main = () => $('#main');

  function showAlert(message, kind = 'error') {
    const box = $('#alert');
    box.textContent = message;
    box.className = kind === 'info' ? 'info' : '';
    box.hidden = !message;
  }

  function stateBadge(state) {
    return h('span', { class: `state s-${state}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), STATE_LABEL[state] || state);
  }
  function card(label, value, note) {
    return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : null);
  }
  function table(headers, rows, caption) {
    return h('div', { class: 'table-wrap' }, h('table', {},
      caption ? h('caption', { class: 'muted small' }, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((t) => (t instanceof Node ? t : h('th', { scope: 'col' }, t))))),
      h('tbody', {}, rows)));
  }
  const field = (label, input, hint) => {
    const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
    input.id = id;
    return h('div', {}, h('label', { for: id }, label), input, hint ? h('div', { class: 'muted small' }, hint) : null);
  };

  // ---------------------------------------------------------------- the API
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  /** Reads an error body `{"error":{"code","message"}}` into a sentence a user can act on. */
  async function errorOf(res) {
    let code = 'error'; let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.error) { code = body.error.code; message = body.error.message; }
    } catch (_) { /* not JSON: keep the status line */ }
    if (res.status === 403) message = `Not allowed: ${message}`;
    if (res.status >= 500) message = `The server could not answer (${message}). Try again in a moment.`;
    return new ApiError(res.status, code, message);
  }

  async function sessionCall(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { 'x-moose-console': '1', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
    });
    if (!res.ok) throw await errorOf(res);
    return res.status === 204 ? null : res.json();
  }
  function keep(tokens) {
    session.token = tokens.access_token;
    session.expiresAt = Date.now() + (tokens.expires_in - 30) * 1000;
  }
  /**
   * A new access token from the refresh cookie; false when there is no session. Calls made
   * together share one refresh: each refresh rotates the cookie, and a second one sent with
   * the cookie the first just replaced would be refused.
   */
  let refreshing = null;
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        for (let attempt = 0; attempt < 2; attempt += 1) {
          try {
            keep(await sessionCall('POST', '/console/session/refresh'));
            return true;
          } catch (e) {
            // Another tab refreshed at the same moment (409): its new cookie is ours too.
            if (e.status !== 409 || attempt > 0) return false;
            await new Promise((resolve) => { setTimeout(resolve, 500); });
          }
        }
        return false;
      })().finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  /** Calls the API as the signed-in user; refreshes the access token once when it expired. */
  async function api(method, path, body, retried = false) {
    if (session.token && Date.now() > session.expiresAt && !retried) await refresh();
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${session.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'Moose cannot be reached: check the connection and try again.');
    }
    if (res.status === 401 && !retried && await refresh()) return api(method, path, body, true);
    if (res.status === 401) { signedOut('Your session has ended; please sign in again.'); throw await errorOf(res); }
    if (!res.ok) throw await errorOf(res);
    return res.status === 204 ? null : res.json();
  }
  const get = (path) => api('GET', path);

  // ---------------------------------------------------------------- roles
  const orgRank = () => ROLE_RANK[session.me.role] ?? 0;
  const seesAll = () => orgRank() >= ROLE_RANK.fleet_manager;
  const systemRole = (id) => {
    const m = (session.access.memberships || []).find((x) => x.system === id);
    return m ? m.role : null;
  };
  /** Snooze, maintenance, grace, members: the API's SystemManage rule. */
  const canManage = (id) => seesAll() || ['owner', 'installer'].includes(systemRole(id));
  /** Acknowledging: owners, installers, technicians of the system; fleet-wide roles. */
  const canAck = (id) => seesAll() || (id ? ['owner', 'installer', 'technician'].includes(systemRole(id)) : orgRank() >= ROLE_RANK.technician);

  // ---------------------------------------------------------------- shell and routing
  const NAV = [
    ['fleet', 'Fleet', () => true],
    ['incidents', 'Incidents', () => true],
    ['notifications', 'Notifications', () => true],
    ['assistant', 'Assistant', () => true],
    ['admin', 'Admin', () => orgRank() >= ROLE_RANK.admin],
  ];
  function renderNav(active) {
    const list = $('#nav');
    list.replaceChildren(...NAV.filter(([, , allowed]) => allowed()).map(([id, label]) =>
      h('li', {}, h('a', { href: `#/${id}`, 'aria-current': id === active ? 'page' : null }, label))));
    $('#who').textContent = `${session.me.name || session.me.email} (${session.me.role.replace('_', ' ')})`;
    $('header.top').hidden = false;
  }

  let renderSeq = 0;
  async function route() {
    const seq = ++renderSeq;
    if (!session.token) return signInPage();
    let parts;
    try {
      parts = (location.hash.replace(/^#\/?/, '').split('?')[0] || 'fleet').split('/').map(decodeURIComponent);
    } catch (_) { parts = ['']; }
    // An id is put into API paths: `.` or `..` (which encodeURIComponent keeps) would climb.
    if (parts.some((p) => p === '.' || p === '..')) parts = [''];
    const page = parts[0];
    renderNav(page === 'systems' ? 'fleet' : page);
    showAlert('');
    const pages = { fleet: fleetPage, systems: systemPage, incidents: incidentsPage, notifications: notificationsPage, assistant: assistantPage, admin: adminPage };
    const render = Object.hasOwn(pages, page) ? pages[page] : notFoundPage;
    const root = h('div', {});
    main().replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      await render(root, parts.slice(1));
      if (seq !== renderSeq) return;
      main().replaceChildren(root);
      const title = root.querySelector('h1');
      document.title = title ? `${title.textContent} · Moose` : 'Moose';
      main().focus({ preventScroll: true });
    } catch (e) {
      if (seq !== renderSeq) return;
      main().replaceChildren(h('h1', {}, 'Something went wrong'), h('p', {}, e.message));
      if (!(e instanceof ApiError)) console.error(e);
    }
  }
  function notFoundPage(root) {
    root.append(h('h1', {}, 'No such page'), h('p', {}, h('a', { href: '#/fleet' }, 'Back to the fleet')));
  }

  /** Runs a write, shows its error in the alert region, re-renders on success. */
  async function act(button, work, done) {
    button.disabled = true;
    try {
      const result = await work();
      if (done) await done(result); else await route();
    } catch (e) {
      showAlert(e.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- sign-in
  /**
   * What the server tells the page before sign-in: how one may sign in (`local`, and `supabase`
   * when the server has a project) and the map's tile layer (`null`: none). Asked once.
   */
  let pageConfig = null;
  async function consoleConfig() {
    if (!pageConfig) {
      try { pageConfig = await sessionCall('GET', '/console/session'); } catch (_) { pageConfig = null; }
    }
    return pageConfig || { providers: ['local'], tiles: null };
  }
  async function signInPage(message) {
    $('header.top').hidden = true;
    document.title = 'Sign in · Moose';
    const { providers } = await consoleConfig();
    const account = providers.includes('supabase') ? h('fieldset', {}, h('legend', {}, 'Account'),
      h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'provider', value: 'local', checked: true }), 'Moose account'), ' ',
      h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'provider', value: 'supabase' }), 'Supabase account')) : null;
    const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
    const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
    const error = h('p', { role: 'alert', class: 'sev-critical' });
    const button = h('button', { type: 'submit' }, 'Sign in');
    const form = h('form', { class: 'stack', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, 'Sign in to Moose'),
      message ? h('p', { class: 'muted' }, message) : null,
      account, field('E-mail', email), field('Password', password), h('p', {}, button), error);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      error.textContent = '';
      try {
        const provider = (form.querySelector('input[name=provider]:checked') || {}).value || 'local';
        keep(await sessionCall('POST', '/console/session', { email: email.value, password: password.value, provider }));
        await start();
      } catch (e) {
        error.textContent = e.status === 401 ? 'The e-mail or password is not right.' : e.message;
      } finally { button.disabled = false; }
    });
    main().replaceChildren(form);
    email.focus();
  }
  function signedOut(message) {
    session.token = null; session.me = null;
    signInPage(message);
  }
  async function signOut() {
    try { await api('POST', '/api/auth/logout'); } catch (_) { /* ending anyway */ }
    try { await sessionCall('DELETE', '/console/session'); } catch (_) { /* the cookie expires */ }
    signedOut('You have signed out.');
  }

  async function start() {
    [session.me, session.access] = await Promise.all([get('/api/users/me'), get('/api/users/me/systems')]);
    if (!location.hash) location.hash = '#/fleet'; else await route();
  }

  // ---------------------------------------------------------------- fleet
  /** Every row of the fleet summary, following the cursor. */
  async function fleetRows() {
    let cursor = null; const rows = []; let totals = null;
    do {
      const page = await get(`/api/fleet/summary?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      rows.push(...page.systems);
      totals = totals || page.totals;
      cursor = page.next_cursor;
    } while (cursor);
    return { rows, totals };
  }

  async function fleetPage(root) {
    const { rows, totals } = await fleetRows();
    const ratio = (r) => (r.today.expected_clear_sky_wh ? (r.today.produced_wh ?? 0) / r.today.expected_clear_sky_wh : null);
    const byState = totals.by_state || {};
    const red = (byState.faulty || 0) + (byState.offline || 0) + (byState.not_producing || 0);
    root.append(
      h('h1', {}, 'Fleet'),
      h('div', { class: 'cards' },
        card('Systems', num(totals.systems)),
        card('Need attention', num(red + (byState.underperforming || 0)), `${num(red)} red`),
        card('Open incidents', num(totals.open_incidents)),
        card('Today', energy(totals.today_produced_wh), `of ${energy(totals.today_expected_clear_sky_wh)} clear-sky`)));

    const filter = h('input', { type: 'search', placeholder: 'System name', 'aria-controls': 'fleet-table' });
    const stateSel = h('select', {}, h('option', { value: '' }, 'All states'),
      STATE_ORDER.map((st) => h('option', { value: st }, `${STATE_LABEL[st]} (${num(byState[st] || 0)})`)));
    root.append(h('div', { class: 'row' }, field('Filter', filter), field('State', stateSel)));

    const sortKeys = {
      state: (r) => STATE_ORDER.indexOf(r.state), name: (r) => r.name.toLowerCase(),
      today: (r) => r.today.produced_wh ?? -1, ratio: (r) => ratio(r) ?? -1,
      yield: (r) => r.today.specific_yield_kwh_per_kwp ?? -1, incidents: (r) => r.open_incidents,
      age: (r) => r.data_age_s ?? Infinity,
    };
    let sort = { key: 'state', dir: 1 };
    const columns = [['state', 'Status'], ['name', 'System'], ['today', 'Today', 'num'], ['ratio', 'of clear-sky', 'num'],
      ['yield', 'kWh/kWp', 'num'], ['incidents', 'Open incidents', 'num'], ['age', 'Last data', 'num']];
    const body = h('tbody', {});
    const count = h('p', { class: 'muted small', 'aria-live': 'polite' });
    const head = h('tr', {});
    const pager = h('div', { class: 'row pager' });
    const wrap = h('div', { class: 'table-wrap', id: 'fleet-table' });
    // A page of rows at a time: sorting and filtering cover the whole fleet, but only one page
    // is in the document, so a fleet of thousands stays quick to draw and to read.
    const PAGE = 100;
    let page = 0;
    const draw = () => {
      const q = filter.value.trim().toLowerCase();
      const st = stateSel.value;
      const key = sortKeys[sort.key];
      const shown = rows.filter((r) => (!st || r.state === st) && (!q || r.name.toLowerCase().includes(q)))
        .map((r) => [key(r), r])
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) * sort.dir)
        .map(([, r]) => r);
      const pages = Math.max(1, Math.ceil(shown.length / PAGE));
      page = Math.min(page, pages - 1);
      const first = page * PAGE;
      body.replaceChildren(...shown.slice(first, first + PAGE).map((r) => h('tr', {},
        h('td', {}, stateBadge(r.state)),
        h('td', {}, h('a', { href: `#/systems/${encodeURIComponent(r.id)}` }, r.name)),
        h('td', { class: 'num' }, energy(r.today.produced_wh)),
        h('td', { class: 'num' }, pct(ratio(r))),
        h('td', { class: 'num' }, num(r.today.specific_yield_kwh_per_kwp, 2)),
        h('td', { class: 'num' }, r.open_incidents ? h('a', { href: `#/incidents?system=${encodeURIComponent(r.id)}` }, num(r.open_incidents)) : '0'),
        h('td', { class: 'num' }, age(r.data_age_s)))));
      wrap.dataset.total = String(shown.length);
      count.textContent = shown.length > PAGE
        ? `${num(first + 1)}–${num(Math.min(first + PAGE, shown.length))} of ${num(shown.length)} systems (${num(rows.length)} in all)`
        : `${num(shown.length)} of ${num(rows.length)} systems`;
      head.replaceChildren(...columns.map(([k, label, cls]) => h('th', {
        scope: 'col', class: cls, 'aria-sort': sort.key === k ? (sort.dir > 0 ? 'ascending' : 'descending') : null,
      }, h('button', { type: 'button', onclick: () => { sort = { key: k, dir: sort.key === k ? -sort.dir : 1 }; page = 0; draw(); } },
        label, sort.key === k ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''))));
      const go = (to) => () => { page = to; draw(); wrap.scrollIntoView({ block: 'start' }); };
      pager.replaceChildren(...(pages > 1 ? [
        h('button', { type: 'button', class: 'secondary', disabled: page === 0, onclick: go(page - 1) }, 'Previous'),
        h('span', {}, `Page ${num(page + 1)} of ${num(pages)}`),
        h('button', { type: 'button', class: 'secondary', disabled: page >= pages - 1, onclick: go(page + 1) }, 'Next'),
      ] : []));
    };
    filter.addEventListener('input', () => { page = 0; draw(); });
    stateSel.addEventListener('change', () => { page = 0; draw(); });
    draw();
    wrap.append(h('table', {},
      h('caption', { class: 'muted small' }, 'Every system you may see; today is each site\'s local day.'),
      h('thead', {}, head), body));
    root.append(count, wrap, pager);
    root.append(h('h2', {}, 'Map'), fleetMap(rows, (await consoleConfig()).tiles));
  }

  /**
   * The fleet's positions on a Web Mercator map fitted to them. With a tile server configured
   * (`MOOSE_CONSOLE_TILE_URL`) its tiles are drawn underneath at the whole zoom level that fits;
   * without one, or when the tiles do not load, the dots stand on a plain graticule, so the map
   * works offline.
   */
  function fleetMap(rows, tiles) {
    // The worst states are drawn last, on top: a fault is never hidden under a healthy neighbour.
    const placed = rows.filter((r) => r.location && r.location.latitude != null)
      .sort((a, b) => STATE_ORDER.indexOf(b.state) - STATE_ORDER.indexOf(a.state));
    if (!placed.length) return h('p', { class: 'muted' }, 'No system has a known position yet.');
    const W = 960; const H = 440; const pad = 24; const TILE = 256; const MAX_ZOOM = 18;
    // Web Mercator in units of the whole world (0..1 both ways), as slippy-map tiles are cut.
    const mx = (lon) => (lon + 180) / 360;
    const my = (lat) => {
      const phi = (Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180;
      return (1 - Math.asinh(Math.tan(phi)) / Math.PI) / 2;
    };
    const xs = placed.map((r) => mx(r.location.longitude)); const ys = placed.map((r) => my(r.location.latitude));
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const spanX = Math.max(maxX - minX, 6 / 360) * 1.1; const spanY = Math.max(maxY - minY, 4 / 360) * 1.16;
    // Pixels per world: the largest that shows every dot; a whole zoom level when tiles are drawn.
    let scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY, TILE * 2 ** MAX_ZOOM);
    const zoom = Math.max(0, Math.min(MAX_ZOOM, Math.floor(Math.log2(scale / TILE))));
    if (tiles) scale = TILE * 2 ** zoom;
    const cx = (minX + maxX) / 2; const cy = (minY + maxY) / 2;
    const x = (lon) => W / 2 + (mx(lon) - cx) * scale;
    const y = (lat) => H / 2 + (my(lat) - cy) * scale;
    const cls = (st) => ({ ok: 'ok', faulty: 'bad', offline: 'bad', not_producing: 'bad', underperforming: 'warn', maintenance: 'maint' }[st] || 'unknown');
    const under = [];
    if (tiles) {
      const n = 2 ** zoom;
      const [c0, c1] = [Math.floor((cx - W / 2 / scale) * n), Math.floor((cx + W / 2 / scale) * n)];
      const [r0, r1] = [Math.max(0, Math.floor((cy - H / 2 / scale) * n)), Math.min(n - 1, Math.floor((cy + H / 2 / scale) * n))];
      for (let row = r0; row <= r1; row += 1) {
        for (let col = c0; col <= c1; col += 1) {
          const wrapped = ((col % n) + n) % n;
          const href = tiles.url.replace('{z}', zoom).replace('{x}', wrapped).replace('{y}', row);
          const img = s('image', { class: 'tile', href, x: (W / 2 + (col / n - cx) * scale).toFixed(1), y: (H / 2 + (row / n - cy) * scale).toFixed(1), width: TILE, height: TILE, 'aria-hidden': 'true' });
          // A tile that does not load is taken away, or the browser draws a broken-image icon.
          img.addEventListener('error', () => img.remove());
          under.push(img);
        }
      }
    }
    // The graticule, every 1, 5, 10 or 20 degrees as the span asks; under tiles it shows where
    // tiles are missing.
    const latSpan = (H / scale) * 360; const step = [1, 5, 10, 20].find((d) => latSpan / d <= 8) || 30;
    const south = -85; const north = 85;
    for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
      const yy = y(lat);
      if (yy > 0 && yy < H) under.push(s('line', { class: 'grid', x1: 0, x2: W, y1: yy, y2: yy }), s('text', { x: 2, y: yy - 2 }, `${lat}°`));
    }
    for (let lon = -180; lon <= 180; lon += step) {
      const xx = x(lon);
      if (xx > 0 && xx < W) under.push(s('line', { class: 'grid', y1: 0, y2: H, x1: xx, x2: xx }), s('text', { x: xx + 2, y: H - 4 }, `${lon}°`));
    }
    const dots = placed.map((r) => s('a', { href: `#/systems/${encodeURIComponent(r.id)}`, 'aria-label': `${r.name}: ${STATE_LABEL[r.state] || r.state}` },
      s('circle', { class: cls(r.state), cx: x(r.location.longitude).toFixed(1), cy: y(r.location.latitude).toFixed(1), r: rows.length > 200 ? 4 : 7 },
        s('title', {}, `${r.name} — ${STATE_LABEL[r.state] || r.state}, ${energy(r.today.produced_wh)} today`))));
    const map = s('svg', { class: tiles ? 'map tiled' : 'map', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-zoom': tiles ? zoom : null, 'aria-label': `Map of ${placed.length} systems by status` }, under, dots);
    if (!tiles) return map;
    return h('figure', { class: 'map-figure' }, map, h('figcaption', { class: 'muted small' }, tiles.attribution));
  }

  // ---------------------------------------------------------------- one system
  const PERIODS = { day: ['Day', 1, '1h'], week: ['Week', 7, '1d'], month: ['Month', 30, '1d'], year: ['Year', 365, '1mo'] };

  async function systemPage(root, [id]) {
    const enc = encodeURIComponent(id);
    const [sys, status, kpis, incidents] = await Promise.all([
      get(`/api/systems/${enc}`),
      get(`/api/systems/${enc}/status`).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
      get(`/api/systems/${enc}/kpis`),
      get(`/api/incidents?system=${enc}&limit=50`),
    ]);
    const state = status ? status.state : 'unknown';
    root.append(
      h('p', { class: 'small' }, h('a', { href: '#/fleet' }, '← Fleet')),
      h('h1', {}, sys.name),
      h('p', {}, stateBadge(state), ' · ', [sys.city, sys.country].filter(Boolean).join(', '),
        ` · ${num((sys.peak_power_w || 0) / 1000, 1)} kWp · last data ${when(sys.last_data_at)}`));
    if (status && status.snoozed_until && new Date(status.snoozed_until) > new Date()) {
      root.append(h('p', { class: 'muted' }, `Notifications are snoozed until ${when(status.snoozed_until)}.`));
    }

    // Chart with its period controls.
    const today = sys.today ? sys.today.date : isoDay(new Date());
    const periodSel = h('select', {}, Object.entries(PERIODS).map(([k, [label]]) => h('option', { value: k }, label)));
    const dateIn = h('input', { type: 'date', value: today, max: today });
    const chartBox = h('div', { 'aria-live': 'polite' });
    const drawChart = async () => {
      const [, days, resolution] = PERIODS[periodSel.value];
      const to = dateIn.value || today;
      const from = addDays(to, 1 - days);
      chartBox.replaceChildren(h('p', { class: 'muted' }, 'Loading the chart…'));
      try {
        const series = await get(`/api/systems/${enc}/production?from=${from}&to=${addDays(to, 1)}&resolution=${resolution}`);
        chartBox.replaceChildren(productionChart(series, resolution));
      } catch (e) { chartBox.replaceChildren(h('p', { role: 'alert' }, e.message)); }
    };
    periodSel.addEventListener('change', drawChart);
    dateIn.addEventListener('change', drawChart);
    root.append(h('h2', {}, 'Production'), h('div', { class: 'row' }, field('Period', periodSel), field('Ending on', dateIn)), chartBox);
    await drawChart();

    root.append(h('h2', {}, `KPIs, ${kpis.from} to ${kpis.to}`), kpiPanel(kpis.kpis));
    root.append(h('h2', {}, 'Devices'), devicesTable(sys.devices, status));
    root.append(h('h2', {}, 'Incidents'), incidentTimeline(incidents.incidents));
    if (canManage(id)) root.append(h('h2', {}, 'Controls'), controls(id, status));
  }

  function kpiPanel(k) {
    const unknown = k.unknown || {};
    const value = (key, text) => (unknown[key] ? 'unknown' : text);
    const note = (key, fallback) => unknown[key] || fallback;
    return h('div', {},
      h('div', { class: 'cards' },
        card('Produced', energy(k.energy && k.energy.produced_wh)),
        card('Specific yield', value('specific_yield_kwh_per_kwp', `${num(k.specific_yield_kwh_per_kwp, 1)} kWh/kWp`), note('specific_yield_kwh_per_kwp')),
        card('Performance index', value('performance_index', pct(k.performance_index)), note('performance_index', 'against clear sky')),
        card('Expected (clear sky)', value('expected_clear_sky_wh', energy(k.expected_clear_sky_wh)), note('expected_clear_sky_wh')),
        card('Data completeness', pct(k.data_completeness), k.low_quality_days ? `${num(k.low_quality_days)} low-quality days` : null),
        card('Self-consumption', value('self_consumption', pct(k.self_consumption)), note('self_consumption'))),
      h('details', {}, h('summary', {}, 'Assumptions'), h('ul', {}, (k.assumptions || []).map((a) => h('li', {}, a)))));
  }

  function devicesTable(devices, status) {
    const states = (status && status.devices) || {};
    return table(['Device', 'Type', 'State', 'Last message'], (devices || []).map((d) => {
      const st = states[d.id] || {};
      return h('tr', {}, h('td', {}, d.name), h('td', {}, d.device_type), h('td', {}, st.state || (d.active ? 'active' : 'inactive')),
        h('td', {}, st.last_message ? `${st.last_code ?? ''} ${st.last_message} (${when(st.last_message_at)})` : '—'));
    }));
  }

  function incidentTimeline(list) {
    if (!list.length) return h('p', { class: 'muted' }, 'No incidents.');
    return h('ol', { class: 'timeline' }, list.map((i) => h('li', {},
      h('span', { class: `badge sev-${i.severity}` }, i.severity), ' ',
      h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title),
      h('div', { class: 'muted small' }, `${KIND_LABEL[i.kind] || i.kind} · since ${when(i.since)}`,
        i.resolved_at ? ` · resolved ${when(i.resolved_at)}` : ' · open', i.acked_at ? ` · acknowledged ${when(i.acked_at)}` : ''))));
  }

  /** Snooze, maintenance window and grace period, for those who manage the system. */
  function controls(id, status) {
    const enc = encodeURIComponent(id);
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const inOneDay = local(new Date(Date.now() + 86400000));
    const snoozeUntil = h('input', { type: 'datetime-local', value: inOneDay });
    const snoozeBtn = h('button', { type: 'button' }, 'Snooze notifications');
    snoozeBtn.addEventListener('click', () => act(snoozeBtn, () => api('POST', `/api/systems/${enc}/snooze`, { until: new Date(snoozeUntil.value).toISOString() })));
    const mFrom = h('input', { type: 'datetime-local', value: local(new Date()) });
    const mTo = h('input', { type: 'datetime-local', value: local(new Date(Date.now() + 4 * 3600000)) });
    const mReason = h('input', { type: 'text', value: '', placeholder: 'e.g. inverter replacement' });
    const mBtn = h('button', { type: 'button' }, 'Plan maintenance');
    mBtn.addEventListener('click', () => act(mBtn, () => api('POST', `/api/systems/${enc}/maintenance`, {
      from: new Date(mFrom.value).toISOString(), to: new Date(mTo.value).toISOString(), reason: mReason.value || 'maintenance',
    })));
    const mCancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel maintenance');
    mCancel.addEventListener('click', () => act(mCancel, () => api('DELETE', `/api/systems/${enc}/maintenance`)));
    const grace = h('input', { type: 'number', min: 5, max: 240, value: (status && status.grace_minutes) || 30 });
    const gBtn = h('button', { type: 'button' }, 'Set grace period');
    gBtn.addEventListener('click', () => act(gBtn, () => api('PUT', `/api/systems/${enc}/grace`, { minutes: Number(grace.value) })));
    return h('div', {},
      h('fieldset', {}, h('legend', {}, 'Snooze'), h('div', { class: 'row' }, field('Until', snoozeUntil), snoozeBtn)),
      h('fieldset', {}, h('legend', {}, 'Maintenance window'), h('div', { class: 'row' }, field('From', mFrom), field('To', mTo), field('Reason', mReason), mBtn, mCancel)),
      h('fieldset', {}, h('legend', {}, 'No-data grace period'), h('div', { class: 'row' }, field('Minutes (5–240)', grace), gBtn)));
  }

  /** Bars of produced energy and the dashed clear-sky expectation, as SVG with a text summary. */
  function productionChart(series, resolution) {
    const pts = series.points || [];
    if (!pts.length) return h('p', { class: 'muted' }, 'No data in this period.');
    const W = 960; const H = 300; const L = 64; const B = 28; const T = 10; const R = 10;
    const max = Math.max(1, ...pts.map((p) => Math.max(p.produced_wh || 0, p.expected_clear_sky_wh || 0)));
    const bw = (W - L - R) / pts.length;
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const label = (iso) => {
      const opts = resolution === '1h' ? { hour: '2-digit', minute: '2-digit' } : resolution === '1mo' ? { month: 'short' } : { day: 'numeric', month: 'short' };
      return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: series.time_zone || timeZone() }).format(new Date(iso));
    };
    const every = Math.ceil(pts.length / 12);
    const bars = pts.map((p, i) => (p.produced_wh == null ? null : s('rect', {
      class: 'bar', x: (L + i * bw + bw * 0.1).toFixed(1), width: (bw * 0.8).toFixed(1),
      y: y(p.produced_wh).toFixed(1), height: Math.max(0, H - B - y(p.produced_wh)).toFixed(1), 'data-wh': p.produced_wh,
    }, s('title', {}, `${label(p.start)}: ${energy(p.produced_wh)}`))));
    const exp = pts.filter((p) => p.expected_clear_sky_wh != null)
      .map((p) => `${(L + pts.indexOf(p) * bw + bw / 2).toFixed(1)},${y(p.expected_clear_sky_wh).toFixed(1)}`);
    const ticks = [0, 0.5, 1].map((f) => [s('line', { class: 'axis', x1: L - 4, x2: W - R, y1: y(max * f), y2: y(max * f) }),
      s('text', { x: L - 6, y: y(max * f) + 4, 'text-anchor': 'end' }, energy(max * f))]);
    const xl = pts.map((p, i) => (i % every ? null : s('text', { x: L + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle' }, label(p.start))));
    const produced = pts.reduce((a, p) => a + (p.produced_wh || 0), 0);
    const expected = pts.reduce((a, p) => a + (p.expected_clear_sky_wh || 0), 0);
    const gaps = pts.filter((p) => p.produced_wh == null).length;
    const summary = `${energy(produced)} produced${expected ? ` against ${energy(expected)} under a clear sky` : ''}${gaps ? `; ${num(gaps)} intervals without data` : ''}.`;
    return h('figure', {},
      s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Production chart: ${summary}` },
        ticks, bars, exp.length ? s('polyline', { class: 'expected', points: exp.join(' ') }) : null, xl),
      h('div', { class: 'legend' }, h('span', {}, h('span', { class: 'sw bar' }), 'Produced'), h('span', {}, h('span', { class: 'sw exp' }), 'Clear-sky expectation')),
      h('figcaption', { class: 'small' }, summary));
  }

  // ---------------------------------------------------------------- incidents
  async function incidentsPage(root, rest) {
    if (rest[0]) return incidentDetail(root, rest[0]);
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const query = new URLSearchParams({ limit: '100' });
    for (const k of ['kind', 'state', 'system']) if (params.get(k)) query.set(k, params.get(k));
    const [list, fleet] = await Promise.all([get(`/api/incidents?${query}`), get('/api/systems?limit=1000')]);
    const systems = fleet.systems || [];
    const sel = (name, label, options) => {
      const el = h('select', { name }, h('option', { value: '' }, `All`), options.map(([v, t]) => h('option', { value: v, selected: params.get(name) === v }, t)));
      el.addEventListener('change', () => {
        const next = new URLSearchParams(params);
        if (el.value) next.set(name, el.value); else next.delete(name);
        location.hash = `#/incidents?${next}`;
      });
      return field(label, el);
    };
    root.append(h('h1', {}, 'Incidents'),
      h('div', { class: 'row' },
        sel('state', 'State', [['open', 'Open'], ['resolved', 'Resolved']]),
        sel('kind', 'Kind', Object.entries(KIND_LABEL)),
        sel('system', 'System', systems.map((x) => [x.id, x.name]))));
    const rows = list.incidents.map((i) => h('tr', {},
      h('td', {}, h('span', { class: `badge sev-${i.severity}` }, i.severity)),
      h('td', {}, h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title)),
      h('td', {}, KIND_LABEL[i.kind] || i.kind),
      h('td', {}, when(i.since)),
      h('td', {}, i.resolved_at ? `resolved ${when(i.resolved_at)}` : (i.acked_at ? 'open, acknowledged' : 'open'))));
    root.append(rows.length ? table(['Severity', 'Incident', 'Kind', 'Since', 'State'], rows) : h('p', { class: 'muted' }, 'No incidents match.'));
  }

  async function incidentDetail(root, id) {
    const i = await get(`/api/incidents/${encodeURIComponent(id)}`);
    root.append(h('p', { class: 'small' }, h('a', { href: '#/incidents' }, '← Incidents')),
      h('h1', {}, i.title),
      h('p', {}, h('span', { class: `badge sev-${i.severity}` }, i.severity), ` ${KIND_LABEL[i.kind] || i.kind} · `,
        i.system ? h('a', { href: `#/systems/${encodeURIComponent(i.system)}` }, i.system_name || i.system) : 'platform',
        ` · since ${when(i.since)}`, i.resolved_at ? ` · resolved ${when(i.resolved_at)}` : ' · open'),
      h('p', {}, i.summary),
      h('h2', {}, 'What to do'), h('p', {}, i.action));
    if (i.lost_energy_wh != null) root.append(h('p', {}, `Estimated energy lost: ${energy(i.lost_energy_wh)}`));
    if (i.explanation || i.code) {
      const ex = i.explanation || {};
      root.append(h('h2', {}, 'State code'), h('p', {}, `${i.code ?? ex.code ?? ''} ${ex.meaning || ex.text || ''}`));
    }
    root.append(h('h2', {}, 'Evidence'), h('ul', { class: 'evidence' }, (i.evidence || []).map((e) => h('li', {}, `${when(e.at)}: ${e.note}`))));
    if (i.acked_at) {
      root.append(h('p', {}, `Acknowledged ${when(i.acked_at)}${i.ack_note ? `: ${i.ack_note}` : ''}.`));
    } else if (!i.resolved_at && canAck(i.system)) {
      const note = h('input', { type: 'text', placeholder: 'What you are doing about it' });
      const btn = h('button', { type: 'button' }, 'Acknowledge');
      btn.addEventListener('click', () => act(btn, () => api('POST', `/api/incidents/${encodeURIComponent(id)}/ack`, note.value ? { note: note.value } : {}),
        async () => { await route(); showAlert('Incident acknowledged: reminders and escalation stop.', 'info'); }));
      root.append(h('h2', {}, 'Acknowledge'), h('div', { class: 'row' }, field('Note (optional)', note), btn));
    }
  }

  // ---------------------------------------------------------------- notifications, settings, API keys
  async function notificationsPage(root) {
    const isAdmin = orgRank() >= ROLE_RANK.admin;
    const [feed, settings, keys] = await Promise.all([get('/api/notifications?limit=50'), get('/api/users/me/notification-settings'),
      isAdmin ? get('/api/api-keys') : null]);
    root.append(h('h1', {}, 'Notifications'), h('p', { class: 'muted' }, `${num(feed.unread)} unread`));
    root.append(feed.notifications.length ? h('ul', {}, feed.notifications.map((n) => {
      const read = h('button', { type: 'button', class: 'link' }, 'Mark read');
      read.addEventListener('click', () => act(read, () => api('POST', `/api/notifications/${encodeURIComponent(n.id)}/read`)));
      return h('li', {}, h('span', { class: `badge sev-${n.severity}` }, n.severity), ' ',
        h('a', { href: `#/incidents/${encodeURIComponent(n.incident)}` }, n.read_at ? n.title : h('strong', {}, n.title)),
        ` — ${n.text} `, h('span', { class: 'muted small' }, when(n.created_at)), ' ',
        n.read_at ? h('span', { class: 'muted small' }, '(read)') : read);
    })) : h('p', { class: 'muted' }, 'Nothing yet.'));

    root.append(h('h2', {}, 'Settings'), settingsForm(settings));
    if (isAdmin) root.append(h('h2', {}, 'API keys'), apiKeys(keys.api_keys || keys.keys || []));
  }

  function settingsForm(st) {
    const check = (name, label) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', name, checked: !!st[name] }), label);
    const minSev = h('select', { name: 'min_severity' }, ['info', 'warning', 'critical'].map((v) => h('option', { value: v, selected: st.min_severity === v }, v)));
    const digestHour = h('input', { type: 'number', name: 'digest_hour', min: 0, max: 23, value: st.digest_hour });
    const qh = st.quiet_hours || {};
    const qFrom = h('input', { type: 'time', name: 'quiet_start', value: qh.start || '' });
    const qTo = h('input', { type: 'time', name: 'quiet_end', value: qh.end || '' });
    const rotate = h('input', { type: 'checkbox' });
    const secretBox = h('div', { 'aria-live': 'polite' });
    const save = h('button', { type: 'submit' }, 'Save settings');
    const form = h('form', { class: 'stack' },
      h('fieldset', {}, h('legend', {}, 'Channels'), check('email', 'E-mail'), check('sms', 'SMS'), check('webhook', 'Webhook'), check('digest', 'Daily digest instead of each message')),
      field('Least severity to notify', minSev), field('Digest hour (0–23, your time)', digestHour),
      h('fieldset', {}, h('legend', {}, 'Quiet hours'), h('div', { class: 'row' }, field('From', qFrom), field('To', qTo))),
      h('label', { class: 'inline' }, rotate, st.webhook_secret_set ? 'Rotate the webhook signing secret' : 'Create a webhook signing secret'),
      h('p', {}, save), secretBox);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = {
        email: form.elements.email.checked, sms: form.elements.sms.checked, webhook: form.elements.webhook.checked,
        digest: form.elements.digest.checked, digest_hour: Number(digestHour.value), min_severity: minSev.value,
        quiet_hours: qFrom.value && qTo.value ? { start: qFrom.value, end: qTo.value } : null,
      };
      if (rotate.checked) body.rotate_webhook_secret = true;
      act(save, () => api('PUT', '/api/users/me/notification-settings', body), async (res) => {
        showAlert('Settings saved.', 'info');
        if (res && res.webhook_secret) {
          secretBox.replaceChildren(h('p', {}, 'The webhook signing secret, shown only now — copy it to your receiver:'), h('p', { class: 'secret' }, res.webhook_secret));
        }
      });
    });
    return form;
  }

  function apiKeys(keys) {
    const name = h('input', { type: 'text', required: true, placeholder: 'e.g. grafana' });
    const role = h('select', {}, Object.keys(ROLE_RANK).map((r) => h('option', { value: r }, r.replace('_', ' '))));
    const ro = h('input', { type: 'checkbox', checked: true });
    const out = h('div', { 'aria-live': 'polite' });
    const create = h('button', { type: 'button' }, 'Create key');
    create.addEventListener('click', () => act(create, () => api('POST', '/api/api-keys', { name: name.value, role: role.value, read_only: ro.checked }), (res) => {
      out.replaceChildren(h('p', {}, 'The key, shown only now:'), h('p', { class: 'secret' }, res.key || res.secret || res.token));
    }));
    const rows = keys.map((k) => {
      const revoke = h('button', { type: 'button', class: 'danger' }, 'Revoke');
      revoke.addEventListener('click', () => act(revoke, () => api('DELETE', `/api/api-keys/${encodeURIComponent(k.id)}`)));
      return h('tr', {}, h('td', {}, k.name), h('td', {}, k.role), h('td', {}, k.read_only ? 'read only' : 'read and write'), h('td', {}, when(k.created_at)), h('td', {}, revoke));
    });
    return h('div', {}, rows.length ? table(['Name', 'Role', 'Access', 'Created', ''], rows) : h('p', { class: 'muted' }, 'No API keys.'),
      h('div', { class: 'row' }, field('Name', name), field('Role', role), h('label', { class: 'inline' }, ro, 'Read only'), create), out);
  }

  // ---------------------------------------------------------------- assistant
  /** The conversation the next question continues (`null`: a new one). */
  let conversationId = null;
  /**
   * `#/assistant`: a new conversation; `#/assistant/<id>`: one of the user's earlier ones, its
   * messages shown and continued. The user's conversations are listed beside, most recently
   * active first.
   */
  async function assistantPage(root, [openId]) {
    const [list, open] = await Promise.all([
      get('/api/chat/conversations'),
      openId ? get(`/api/chat/conversations/${encodeURIComponent(openId)}`) : null,
    ]);
    conversationId = open ? open.id : null;
    const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
    for (const m of (open && open.messages) || []) {
      if (m.role === 'user') { log.append(h('p', { class: 'msg user' }, m.text)); continue; }
      const text = h('span', {}, m.text);
      const box = h('div', { class: 'msg assistant' }, text);
      finishAnswer(box, text, { citations: m.citations, proposed_actions: m.proposed_actions });
      log.append(box);
    }
    const input = h('textarea', { rows: 3, required: true, placeholder: 'e.g. Which system produced the least this week, and why?' });
    const send = h('button', { type: 'submit' }, 'Ask');
    const form = h('form', { class: 'chat' }, field('Your question', input), h('p', {}, send));
    const others = h('nav', { class: 'conversations', 'aria-label': 'Your conversations' }, h('h2', {}, 'Conversations'),
      h('p', {}, h('a', { href: '#/assistant', class: 'new' }, 'New conversation')),
      list.conversations.length ? h('ul', {}, list.conversations.map((c) => h('li', {},
        h('a', { href: `#/assistant/${encodeURIComponent(c.id)}`, 'aria-current': c.id === conversationId ? 'page' : null }, c.title || 'Untitled'),
        h('span', { class: 'muted small' }, ` ${when(c.updated_at)}`)))) : h('p', { class: 'muted' }, 'None yet.'));
    const actions = [];
    if (open) {
      const del = h('button', { type: 'button', class: 'danger' }, 'Delete this conversation');
      del.addEventListener('click', () => act(del, () => api('DELETE', `/api/chat/conversations/${encodeURIComponent(open.id)}`), () => { location.hash = '#/assistant'; }));
      actions.push(h('p', {}, del));
    }
    root.append(h('h1', {}, open ? open.title || 'Assistant' : 'Assistant'),
      h('p', { class: 'muted' }, 'Answers from your systems\' live data and the maintenance knowledge base, with sources.'),
      h('div', { class: 'assistant-page' }, others, h('div', { class: 'chat' }, log, form, actions)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const message = input.value.trim();
      if (!message) return;
      input.value = '';
      log.append(h('p', { class: 'msg user' }, message));
      const answer = h('div', { class: 'msg assistant' });
      const text = h('span', {});
      answer.append(text);
      log.append(answer);
      send.disabled = true;
      const started = conversationId;
      try {
        await ask(message, (t) => { text.textContent += t; log.scrollTop = log.scrollHeight; }, (done) => finishAnswer(answer, text, done));
        // A new conversation now has an address: keep it in the URL (without re-drawing the
        // page) and in the list.
        if (!started && conversationId) {
          history.replaceState(null, '', `#/assistant/${encodeURIComponent(conversationId)}`);
          let ul = others.querySelector('ul');
          if (!ul) { ul = h('ul', {}); others.querySelector('p.muted').replaceWith(ul); }
          ul.prepend(h('li', {}, h('a', { href: `#/assistant/${encodeURIComponent(conversationId)}`, 'aria-current': 'page' }, message.slice(0, 80))));
        }
      } catch (e) {
        text.textContent = e.message;
      } finally { send.disabled = false; input.focus(); }
    });
  }

  /** Streams one answer over server-sent events: `meta`, then `delta`s, then `done`. */
  async function ask(message, onText, onDone) {
    if (Date.now() > session.expiresAt) await refresh();
    const body = { message, username: session.me.name || session.me.email, user_id: session.me.id };
    if (conversationId) body.conversation_id = conversationId;
    const res = await fetch('/api/chat', {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw await errorOf(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        let event = 'message'; let data = '';
        for (const line of raw.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        const payload = data ? JSON.parse(data) : {};
        if (event === 'meta' && payload.conversation_id) conversationId = payload.conversation_id;
        if (event === 'delta') onText(payload.text || '');
        if (event === 'done') onDone(payload);
        if (event === 'error') throw new ApiError(500, 'assistant', payload.message || 'The assistant failed.');
      }
    }
  }

  function finishAnswer(box, text, done) {
    if (done.response && !text.textContent) text.textContent = done.response;
    // One entry per article (with its sections) or per data source, in the order cited.
    const sources = new Map();
    for (const c of done.citations || []) {
      const name = c.kind === 'knowledge' ? c.title : (c.title || c.tool || c.id);
      if (!sources.has(name)) sources.set(name, []);
      if (c.kind === 'knowledge' && c.heading && c.heading !== c.title) sources.get(name).push(c.heading);
    }
    if (sources.size) {
      box.append(h('div', { class: 'cites' }, 'Sources: ', [...sources].map(([name, parts], i) => [i ? '; ' : '',
        h('cite', {}, name), parts.length ? ` (${parts.join(', ')})` : ''])));
    }
    for (const a of done.proposed_actions || []) {
      const confirm = h('button', { type: 'button' }, 'Confirm');
      const out = h('span', { class: 'small', 'aria-live': 'polite' });
      confirm.addEventListener('click', () => act(confirm, () => api('POST', `/api/chat/actions/${encodeURIComponent(a.id)}/confirm`), () => {
        confirm.hidden = true; out.textContent = ' Done.';
      }));
      box.append(h('div', { class: 'cites' }, `Proposed: ${a.summary || a.kind || 'an action'} `, confirm, out));
    }
  }

  // ---------------------------------------------------------------- admin
  async function adminPage(root) {
    if (orgRank() < ROLE_RANK.admin) { root.append(h('h1', {}, 'Admin'), h('p', {}, 'Only administrators manage users.')); return; }
    const [users, fleet] = await Promise.all([get('/api/users'), get('/api/systems?limit=1000')]);
    root.append(h('h1', {}, 'Admin'), h('h2', {}, 'Users'));
    const rows = users.users.map((u) => {
      const role = h('select', { 'aria-label': `Role of ${u.email}` }, Object.keys(ROLE_RANK).map((r) => h('option', { value: r, selected: u.role === r }, r.replace('_', ' '))));
      const save = h('button', { type: 'button', class: 'secondary' }, 'Save role');
      save.addEventListener('click', () => act(save, () => api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { role: role.value })));
      const toggle = h('button', { type: 'button', class: u.disabled ? 'secondary' : 'danger' }, u.disabled ? 'Enable' : 'Disable');
      toggle.addEventListener('click', () => act(toggle, () => api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled })));
      return h('tr', {}, h('td', {}, u.name || ''), h('td', {}, u.email), h('td', {}, role, ' ', save), h('td', {}, u.disabled ? 'disabled' : 'active', ' ', u.id === session.me.id ? null : toggle));
    });
    root.append(table(['Name', 'E-mail', 'Role', 'Status'], rows));

    const email = h('input', { type: 'email', required: true });
    const name = h('input', { type: 'text' });
    const role = h('select', {}, Object.keys(ROLE_RANK).map((r) => h('option', { value: r }, r.replace('_', ' '))));
    const out = h('div', { 'aria-live': 'polite' });
    const invite = h('button', { type: 'button' }, 'Invite');
    invite.addEventListener('click', () => act(invite, () => api('POST', '/api/users', { email: email.value, name: name.value || email.value, role: role.value }), (res) => {
      out.replaceChildren(h('p', {}, `Initial password for ${email.value}, shown only now:`), h('p', { class: 'secret' }, res.initial_password || res.password));
    }));
    root.append(h('h2', {}, 'Invite a user'), h('div', { class: 'row' }, field('E-mail', email), field('Name', name), field('Role', role), invite), out);

    // Memberships of one system.
    const systems = fleet.systems || [];
    const pick = h('select', {}, systems.map((x) => h('option', { value: x.id }, x.name)));
    const members = h('div', {});
    const userSel = h('select', {}, users.users.map((u) => h('option', { value: u.id }, u.email)));
    const sysRole = h('select', {}, ['viewer', 'technician', 'installer', 'owner'].map((r) => h('option', { value: r }, r)));
    const grant = h('button', { type: 'button' }, 'Grant');
    const loadMembers = async () => {
      if (!pick.value) return;
      const list = await get(`/api/systems/${encodeURIComponent(pick.value)}/members`);
      const email = (id) => (users.users.find((u) => u.id === id) || {}).email || id;
      members.replaceChildren((list.members || []).length ? table(['User', 'Role', ''], list.members.map((m) => {
        const revoke = h('button', { type: 'button', class: 'danger' }, 'Revoke');
        revoke.addEventListener('click', () => act(revoke, () => api('DELETE', `/api/systems/${encodeURIComponent(pick.value)}/members/${encodeURIComponent(m.user)}`), loadMembers));
        return h('tr', {}, h('td', {}, email(m.user)), h('td', {}, m.role), h('td', {}, revoke));
      })) : h('p', { class: 'muted' }, 'No members: only fleet-wide roles see this system.'));
    };
    grant.addEventListener('click', () => act(grant, () => api('PUT', `/api/systems/${encodeURIComponent(pick.value)}/members/${encodeURIComponent(userSel.value)}`, { role: sysRole.value }), loadMembers));
    pick.addEventListener('change', () => loadMembers().catch((e) => showAlert(e.message)));
    root.append(h('h2', {}, 'System memberships'), h('div', { class: 'row' }, field('System', pick)), members,
      h('div', { class: 'row' }, field('User', userSel), field('Role on the system', sysRole), grant));
    await loadMembers();
  }

  // ---------------------------------------------------------------- boot
  window.addEventListener('hashchange', () => { if (session.token) route(); });
  document.addEventListener('DOMContentLoaded', async () => {
    $('#signout').addEventListener('click', signOut);
    if (await refresh()) {
      try { await start(); return; } catch (e) { showAlert(e.message); }
    }
    signInPage();
  });
})();
