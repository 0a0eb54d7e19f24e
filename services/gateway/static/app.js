/* Thongthin: the officers' web UI. Vanilla JS (ES2020), no build step, no framework.
   Hash routes: #/inbox #/obligations #/obligation/<id> #/prefs #/followup #/compose #/cascade[/<id>] #/unit/<code>
   Thai first (English switch), BE dates in Asia/Bangkok, optional Thai digits. Talks only to /api/v1. */
'use strict';
(() => {
// Strings live in th.json (loaded with the page) and en.json (loaded when someone picks English).
const LEVELS = ['ministry', 'ministry_office', 'department', 'department_bureau', 'provincial_office', 'district_office', 'lao'];
const LAO_TYPES = ['pao', 'city_municipality', 'town_municipality', 'subdistrict_municipality', 'sao', 'special'];
const FINAL = ['closed', 'not_applicable', 'cancelled'];
const FORWARDERS = ['central', 'province', 'district'];
const SUPERVISORS = ['district', 'province', 'central'];
const NAV = {  // dash.js adds the dashboards (dashboard, overdue, indicator) per role
  lao: ['inbox', 'obligations', 'prefs'], district: ['followup', 'inbox', 'cascade', 'compose', 'prefs'],
  province: ['followup', 'inbox', 'cascade', 'compose', 'prefs'], central: ['compose', 'cascade', 'followup', 'inbox', 'prefs'],
  reviewer: ['followup', 'prefs'], ops: ['cascade', 'followup', 'prefs'],
};
const HIDDEN = {obligation: 'obligations'};  // detail routes and the menu item they belong to
const EVERY_ROLE = ['unit'];  // detail routes every signed-in user may open (national reference data)

// ------------------------------------------------------------------ state, i18n, Thai dates and digits
const S = {user: null, lang: localStorage.getItem('tt_lang') === 'en' ? 'en' : 'th',
  digits: localStorage.getItem('tt_digits') === 'thai' ? 'thai' : 'arabic', str: {}, units: {}, unitsFor: null, nav: 0, docs: {}, periods: null};
const t = (key, vars) => {
  const s = (S.str[S.lang] || {})[key] ?? (S.str.th || {})[key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? '')) : s;
};
const oops = (field, key) => new ApiError(422, {field, key});  // a problem found before asking the server
async function strings(lang) {  // th.json first; en.json only once someone picks English
  if (S.str[lang]) return true;
  const link = document.querySelector(`link[data-lang="${lang}"]`), url = link ? link.href : `/static/${lang}.json`;
  try { const r = await fetch(url, {credentials: 'same-origin'}); if (r.ok) S.str[lang] = await r.json(); } catch { /* below */ }
  return !!S.str[lang];
}
const dg = (s) => (S.digits === 'thai' ? String(s).replace(/[0-9]/g, (d) => '๐๑๒๓๔๕๖๗๘๙'[d]) : String(s));
const fromThai = (s) => String(s).replace(/[๐-๙]/g, (c) => c.charCodeAt(0) - 0x0E50);
const num = (x) => (x == null ? '–' : dg(Number(x).toLocaleString('en-US', {maximumFractionDigits: 2})));
const pct = (r) => (r == null ? '–' : dg(Math.round(r * 1000) / 10) + '%');
const pad = (n) => String(n).padStart(2, '0');
const MTH = ['ม.ค.', 'ก.พ.', 'มี.ค.', 'เม.ย.', 'พ.ค.', 'มิ.ย.', 'ก.ค.', 'ส.ค.', 'ก.ย.', 'ต.ค.', 'พ.ย.', 'ธ.ค.'];
const MTH_FULL = ['มกราคม', 'กุมภาพันธ์', 'มีนาคม', 'เมษายน', 'พฤษภาคม', 'มิถุนายน', 'กรกฎาคม', 'สิงหาคม', 'กันยายน', 'ตุลาคม', 'พฤศจิกายน', 'ธันวาคม'];
const MEN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_KEY = {};
MTH.forEach((m, i) => { MONTH_KEY[m.replace(/\./g, '')] = i + 1; MONTH_KEY[MTH_FULL[i]] = i + 1; });
const clean = (v) => String(v).replace(/(\.\d{3})\d+/, '$1');

function parts(v) {  // a date ("2026-02-03") or an instant, as Bangkok calendar parts (UTC+7, no DST)
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (m) return {y: +m[1], m: +m[2] - 1, d: +m[3], time: false};
  const ms = Date.parse(clean(v));
  if (isNaN(ms)) return null;
  const b = new Date(ms + 7 * 3600e3);
  return {y: b.getUTCFullYear(), m: b.getUTCMonth(), d: b.getUTCDate(), H: b.getUTCHours(), M: b.getUTCMinutes(), wd: b.getUTCDay(), time: true};
}
function fdate(v, withTime) {  // "3 ก.พ. 2569 16.30 น." (BE) / "3 Feb 2026, 16:30"; Thai digits when chosen
  const p = parts(v);
  if (!p) return v ? String(v) : '–';
  let s = S.lang === 'en' ? `${p.d} ${MEN[p.m]} ${p.y}` : `${p.d} ${MTH[p.m]} ${p.y + 543}`;
  if (withTime && p.time) s += S.lang === 'en' ? `, ${pad(p.H)}:${pad(p.M)}` : ` ${pad(p.H)}.${pad(p.M)} น.`;
  return dg(s);
}
const WD_TH = ['อาทิตย์', 'จันทร์', 'อังคาร', 'พุธ', 'พฤหัสบดี', 'ศุกร์', 'เสาร์'];
const WD_EN = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
function fwhen(v) {  // "07.00 น. วันอังคารที่ 8 ธ.ค. 2569" / "07:00 on Tuesday 8 Dec 2026"
  const p = parts(v);
  if (!p || !p.time) return fdate(v, true);
  return dg(S.lang === 'en' ? `${pad(p.H)}:${pad(p.M)} on ${WD_EN[p.wd]} ${p.d} ${MEN[p.m]} ${p.y}`
    : `${pad(p.H)}.${pad(p.M)} น. วัน${WD_TH[p.wd]}ที่ ${p.d} ${MTH[p.m]} ${p.y + 543}`);
}
function chaseText(r) {  // the chase answer: sent now, or when it will really go and why (never "sent" when only queued)
  const why = /quiet/.test(r.deferred_because || '') ? t('whyQuiet') : r.deferred_because ? t('whyHoliday') : '';
  if (!r.queued) return r.scheduled_for && !r.sends_now && r.status === 'scheduled' ? t('chasedAlreadyAt', {when: fwhen(r.scheduled_for)}) : t('chasedAlready');
  if (r.sends_now) return t('chasedNow', {n: num(r.queued)});
  return t('chasedAt', {when: fwhen(r.scheduled_for), n: num(r.queued)}) + (why ? ` (${why})` : '');
}
function fperiod(p) {  // "2569-01" → "ม.ค. 2569 · ปีงบ 2569"; "FY2569-Q1" → "ไตรมาส 1 ปีงบประมาณ 2569"
  let m = /^(\d{4})-(\d{2})$/.exec(p || '');
  if (m) {
    const y = +m[1], mo = +m[2], fy = mo >= 10 ? y + 1 : y;
    return dg(S.lang === 'en' ? `${MEN[mo - 1]} ${y - 543} · FY${fy}` : `${MTH[mo - 1]} ${y} · ปีงบ ${fy}`);
  }
  m = /^FY(\d{4})(?:-Q(\d))?$/.exec(p || '');
  if (m) return dg(S.lang === 'en' ? `${m[2] ? 'Q' + m[2] + ' ' : ''}FY${m[1]}` : `${m[2] ? 'ไตรมาส ' + m[2] + ' ' : ''}ปีงบประมาณ ${m[1]}`);
  return dg(p || '–');
}
function fhours(h) {
  if (h == null) return '–';
  if (h < 1) return t('nMin', {n: num(Math.max(1, Math.round(h * 60)))});
  if (h < 48) return t('hrs', {n: num(Math.round(h * 10) / 10)});
  return t('days', {n: num(Math.round(h / 2.4) / 10)});
}
function fdue(v) {
  const ms = Date.parse(clean(v)) - Date.now(), hrs = Math.abs(ms) / 36e5;
  const amount = hrs < 24 ? t('nHours', {n: num(Math.max(1, Math.round(hrs)))}) : t('nDays', {n: num(Math.floor(hrs / 24))});
  return {text: t(ms < 0 ? 'lateBy' : 'dueIn', {x: amount}), late: ms < 0};
}
function parseDate(text) {  // mirrors shared/thai.parse_thai_date: ISO, d/m/yyyy, "4 ม.ค. 2565"; BE or CE
  const s = fromThai(text).replace(/\s+/g, ' ').trim();
  let m, y, mo, d;
  if ((m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s))) [y, mo, d] = [+m[1], +m[2], +m[3]];
  else if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s))) [d, mo, y] = [+m[1], +m[2], +m[3]];
  else if ((m = /^(?:วันที่\s*)?(\d{1,2})\s*([\u0E01-\u0E4E.\s]+?)\s*(?:(พ\.?\s*ศ\.?|ค\.?\s*ศ\.?)\s*)?(\d{4})$/.exec(s))) {
    mo = MONTH_KEY[m[2].replace(/[.\s]/g, '')]; d = +m[1]; y = +m[4];
    if (!mo) return null;
    if (m[3] && m[3][0] === 'ค') y += 543;  // C.E. marked: make it B.E. for the rule below
  } else return null;
  if (y >= 2400) y -= 543;
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d ? {y, m: mo, d} : null;
}
const isoDate = (p) => `${p.y}-${pad(p.m)}-${pad(p.d)}`;
function todayText() {
  const p = parts(new Date().toISOString());
  return `${p.d}/${p.m + 1}/${p.y + 543}`;
}

// ------------------------------------------------------------------ DOM helpers
function h(tag, attrs, ...kids) {  // h('p.muted', 'text') or h('a', {href}, ...children)
  const [name, ...cls] = tag.split('.'), el = document.createElement(name);
  if (cls.length) el.className = cls.join(' ');
  if (attrs == null || typeof attrs !== 'object' || attrs.nodeType || Array.isArray(attrs)) { kids.unshift(attrs); attrs = {}; }
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = (el.className + ' ' + v).trim();
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(9)) if (kid != null && kid !== false && kid !== '') el.append(kid.nodeType ? kid : String(kid));
  return el;
}
let uid = 0;
const btn = (label, onclick, cls = '') => h('button', {type: 'button', class: 'btn ' + cls, onclick, text: label});
const badge = (text, tone = '') => h('span', {class: 'badge ' + tone, text});
const chip = (text) => h('span', {class: 'chip', text});
const empty = (text) => h('p', {class: 'empty', text});
const fact = (k, v) => [h('dt', k), h('dd', null, v)];
const select = (opts, value) => h('select', null, opts.map(([v, l]) => h('option', {value: v, selected: v === value, text: l})));
const enc = encodeURIComponent;
const real = (kids) => kids.flat(9).filter((k) => k != null && k !== false && k !== '');
const fill = (el, ...kids) => { el.replaceChildren(...real(kids)); return el; };
const add = (el, ...kids) => { el.append(...real(kids)); return el; };
const scroll = (table) => h('div', {class: 'scroll', tabindex: 0}, table);
function table(head, rows, cls = '') {
  return scroll(h('table', {class: cls}, h('thead', null, h('tr', null, head.map((x) => h('th', {scope: 'col', text: x})))),
    h('tbody', null, rows)));
}
function downloads(path, params) {  // the same query as a file: ?format=csv|xlsx (see services/gateway/exports.py)
  const q = Object.entries(params || {}).filter(([, v]) => v != null && v !== '').map(([k, v]) => `${k}=${enc(v)}&`).join('');
  return h('p', {class: 'dl'}, h('span.muted', t('d_download') + ' '), ['csv', 'xlsx'].map((f) =>
    [h('a', {class: 'btn ghost sm', href: `/api/v1${path}?${q}format=${f}`, download: '', 'data-format': f, text: f.toUpperCase()}), ' ']));
}
function field(name, label, input, hint) {
  const id = 'f' + ++uid;
  input.id = id;
  input.setAttribute('aria-describedby', `${id}e${hint ? ' ' + id + 'h' : ''}`);
  const check = input.type === 'checkbox';
  return h('div', {class: 'field' + (check ? ' check' : ''), 'data-field': name}, check && input,
    h('label', {for: id, text: label}), !check && input, hint && h('p', {class: 'hint', id: id + 'h'}, hint), h('p', {class: 'err', id: id + 'e'}));
}
function section(title, ...kids) {
  const id = 'h' + ++uid;
  return h('section', {class: 'box', 'aria-labelledby': id}, h('h2', {id, text: title}), kids);
}
function pageEl(title, lead) {
  return h('div.page', null, h('h1', {id: 'title', tabindex: -1, text: title}), lead && h('p.lead', lead));
}
function dateInput(name, initial) {  // a BE date typed as text, with the reading shown under it
  const input = h('input', {type: 'text', inputmode: 'text', autocomplete: 'off', value: initial || '', placeholder: '24/11/2569'});
  const hint = h('span', null);
  const show = () => { const p = input.value.trim() && parseDate(input.value); hint.textContent = p ? '= ' + fdate(isoDate(p)) : (input.value.trim() ? t('badDate') : t('dateHint')); };
  input.addEventListener('input', show); show();
  return {input, hint, iso(time) {
    const text = input.value.trim();
    if (!text) return null;
    const p = parseDate(text);
    if (!p) throw oops(name, 'badDate');
    return time ? `${isoDate(p)}T${time}:00+07:00` : isoDate(p);
  }};
}
function toast(text, tone = 'ok') {
  const el = $('#toast');
  el.className = 'show ' + tone; el.textContent = text;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.className = ''; }, 6000);
}
const $ = (s, r = document) => r.querySelector(s);

// ------------------------------------------------------------------ the API
class ApiError extends Error {
  constructor(status, data, unavailable = false) {
    super('HTTP ' + status); this.status = status; this.data = data || {}; this.field = this.data.field; this.unavailable = unavailable;
  }
}
function csrf() {
  const c = document.cookie.split('; ').find((x) => x.startsWith('tt_csrf='));
  return c ? decodeURIComponent(c.slice(8)) : (S.csrf || '');
}
async function api(method, path, body, {auth = true} = {}) {
  const headers = {Accept: 'application/json'};
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  let r;
  try { r = await fetch('/api/v1' + path, {method, headers, body: payload, credentials: 'same-origin'}); } catch { throw new ApiError(0); }
  const isJson = /json/.test(r.headers.get('Content-Type') || '');
  const data = isJson ? await r.json().catch(() => null) : null;
  if (r.ok) return data;
  if (r.status === 401 && auth) { S.user = null; showLogin(t('expired')); }
  // A route that does not exist yet answers 404/405 without a problem document: "not available yet".
  throw new ApiError(r.status, data, [404, 405, 501].includes(r.status) && !isJson);
}
function errText(e) {
  if (!(e instanceof ApiError)) return t('failed', {s: e && e.message});
  if (e.unavailable) return t('unavailable');
  if (e.status === 0) return t('offline');
  const d = e.data;
  if (d.key) return t(d.key);
  return (S.lang === 'en' ? d.message_en : d.message_th) || d.message_th || t('failed', {s: e.status});
}
function clearErrors(root) {
  root.querySelectorAll('.err').forEach((x) => { x.textContent = ''; });
  root.querySelectorAll('[aria-invalid]').forEach((x) => x.removeAttribute('aria-invalid'));
}
function showError(root, e) {  // next to the field the API names ("values[0].value"), else above the buttons
  const boxes = [...root.querySelectorAll('[data-field]')];
  let f = e.field || '', box = null;
  while (f && !(box = boxes.find((b) => b.dataset.field === f))) {
    const shorter = f.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    f = shorter === f ? '' : shorter;
  }
  const target = box ? box.querySelector(':scope > .err') : root.querySelector('.form-err');
  if (!target) return toast(errText(e), 'bad');
  target.textContent = errText(e);
  const input = box && box.querySelector('input,select,textarea');
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}
async function act(button, fn, statusEl) {  // a button press: busy while running, errors shown
  if (button.disabled) return;
  button.disabled = true; button.setAttribute('aria-busy', 'true');
  try { await fn(); } catch (e) {
    if (statusEl) { statusEl.textContent = errText(e); statusEl.className = 'status bad-t'; } else toast(errText(e), 'bad');
  } finally { button.disabled = false; button.removeAttribute('aria-busy'); }
}
function form(title, fields, label, submit, extra) {
  const b = h('button', {type: 'submit', class: 'btn pri', text: label});
  const f = h('form', {class: 'form', novalidate: true}, title && h('h3', title), fields, h('p', {class: 'err form-err', role: 'alert'}), h('div.actions', null, b, extra));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault(); clearErrors(f);
    const missing = [...f.querySelectorAll('[required]')].find((i) => !i.disabled && !i.value.trim());
    if (missing) return showError(f, oops(missing.closest('[data-field]').dataset.field, 'required'));
    act(b, async () => { try { await submit(f); } catch (e) { showError(f, e); } });
  });
  return f;
}

// ------------------------------------------------------------------ units: names of the user's subtree
async function unitNames() {
  if (S.unitsFor === S.user.org_code) return S.units;
  S.unitsFor = S.user.org_code;
  const me = S.user.org_code, put = (u) => { S.units[u.code] = u; };
  try { (await api('GET', `/org-units?search=${enc(me)}&limit=20`)).items.filter((u) => u.code === me).forEach(put); } catch { /* names are a nicety */ }
  try {
    if (['central', 'ops'].includes(S.user.role)) {
      (await api('GET', '/org-units?level=provincial_office&limit=200')).items.forEach(put);
    } else {
      let frontier = [me], calls = 0;
      while (frontier.length && calls < 80) {
        const batch = frontier.splice(0, 8); calls += batch.length;
        const found = await Promise.all(batch.map((c) => api('GET', `/org-units?parent_code=${enc(c)}&limit=1000`)));
        found.forEach((r) => r.items.forEach((u) => { put(u); if (u.level !== 'lao') frontier.push(u.code); }));
      }
    }
  } catch { /* keep the codes */ }
  return S.units;
}
const uname = (code) => (S.units[code] ? S.units[code].name_th : code);
const unitCell = (code) => h('a', {class: 'unit', href: '#/unit/' + enc(code)}, uname(code), S.units[code] ? h('small', ' ' + code) : null);
function unitsDatalist() {
  return h('datalist', {id: 'units-dl'}, Object.values(S.units).filter((u) => u.level !== 'lao').map((u) => h('option', {value: u.code, label: u.name_th})));
}
async function documentIdOf(directiveId) {
  if (!S.docs[directiveId]) S.docs[directiveId] = (await api('GET', `/directives/${enc(directiveId)}`)).document_id;
  return S.docs[directiveId];
}
const recent = () => { try { return JSON.parse(localStorage.getItem('tt_recent') || '[]'); } catch { return []; } };

// ------------------------------------------------------------------ chrome: header, menu, login
function renderTop() {
  document.documentElement.lang = S.lang;
  const tools = h('div.tools', null,
    h('button', {type: 'button', class: 'btn ghost sm', lang: S.lang === 'en' ? 'th' : 'en', onclick: () => setPref('tt_lang', S.lang === 'en' ? 'th' : 'en'), text: t('otherLang')}),
    h('button', {type: 'button', class: 'btn ghost sm', 'aria-pressed': String(S.digits === 'thai'), onclick: () => setPref('tt_digits', S.digits === 'thai' ? 'arabic' : 'thai'), text: t('thaiDigits')}),
    S.user && btn(t('signOut'), logout, 'ghost sm'));
  const role = S.user && S.user.role, current = currentRoute()[0];
  fill($('#top'), h('header.top', null,
    h('div.bar', null, h('a', {class: 'brand', href: '#/'}, h('span', {class: 'logo', 'aria-hidden': 'true'}), t('app')), tools),
    S.user && h('p.who', null, S.user.display_name, S.user.display_name.includes(uname(S.user.org_code)) ? '' : ' · ' + uname(S.user.org_code)),
    S.user && h('nav', {class: 'tabs', 'aria-label': t('menu')}, (NAV[role] || []).map((r) => h('a', {href: '#/' + r, 'aria-current': (HIDDEN[current] || current) === r ? 'page' : null, text: t('n_' + r)})))));
}
async function setPref(key, value) {
  if (key === 'tt_lang' && !(await strings(value))) return toast(t('offline'), 'bad');
  localStorage.setItem(key, value);
  if (key === 'tt_lang') S.lang = value; else S.digits = value;
  renderTop();
  if (S.user) route(); else showLogin();
}
function showLogin(message) {
  renderTop();
  const user = h('input', {type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true});
  const pass = h('input', {type: 'password', autocomplete: 'current-password', required: true});
  const f = form(null, [field('username', t('username'), user), field('password', t('password'), pass)], t('signIn'), async () => {
    const r = await api('POST', '/auth/session', {username: user.value.trim(), password: pass.value}, {auth: false}).catch((e) => {
      throw e.status === 401 ? new ApiError(401, {key: 'badLogin'}) : e;  // the API's generic 401 text reads oddly here
    });
    S.user = r.user; S.csrf = r.csrf_token; pass.value = '';
    start();
  });
  if (message) f.querySelector('.form-err').textContent = message;
  fill($('#main'), h('div.page.login', null, h('h1', {id: 'title', tabindex: -1, text: t('loginTitle')}), h('p.lead', t('tagline')), f));
  user.focus();
}
async function logout() {
  try { await api('POST', '/auth/logout', {}, {auth: false}); } catch { /* signed out anyway */ }
  S.user = null; S.units = {}; S.unitsFor = null; S.periods = null; S.period = '';
  location.hash = '';
  showLogin();
}
async function start() {
  await unitNames();
  const r = currentRoute()[0];
  if (!r || !ROUTES[r]) location.replace('#/' + home()); else route();
}
const home = () => (NAV[S.user.role] || ['inbox'])[0];
const currentRoute = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
async function route() {
  if (!S.user) return;
  const [name, ...args] = currentRoute();
  const allowed = NAV[S.user.role] || [];
  if (!ROUTES[name] || !(allowed.includes(HIDDEN[name] || name) || EVERY_ROLE.includes(name))) return location.replace('#/' + home());
  renderTop();
  const token = ++S.nav, main = $('#main');
  main.setAttribute('aria-busy', 'true');
  let node;
  try { node = await ROUTES[name](...args); } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    node = h('div.page', null, h('h1', {id: 'title', tabindex: -1, text: t('n_' + (HIDDEN[name] || name))}), h('p', {class: 'notice bad', role: 'alert', text: errText(e)}), btn(t('retry'), route));
  }
  if (token !== S.nav) return;
  main.removeAttribute('aria-busy');
  fill(main, node);
  document.title = `${$('#title', main) ? $('#title', main).textContent + ' · ' : ''}${t('app')}`;
  const h1 = $('#title', main);
  if (h1 && S.moved) h1.focus({preventScroll: false});
  S.moved = true;
}
window.addEventListener('hashchange', () => { if (location.hash === '#main') { $('#main').focus(); return; } route(); });

// ------------------------------------------------------------------ LAO: the inbox of assignments
function aTone(a) {
  if (a.overdue) return 'bad';
  return {issued: 'info', received: 'info', acknowledged: 'ok', forwarded: 'ok', reported: 'ok', in_progress: 'info'}[a.state] || 'muted';
}
function assignmentCard(a, reload) {
  const panel = h('div', {class: 'panel', hidden: true});
  const open = (node) => { fill(panel, node); panel.hidden = false; const i = node.querySelector('input,select,textarea'); if (i) i.focus(); };
  const st = a.state, acts = [];
  if (!FINAL.includes(st) && !a.receipt_number && ['issued', 'received', 'acknowledged'].includes(st)) acts.push(btn(t('registerReceipt'), () => open(receiptForm(a, reload))));
  if (['issued', 'received'].includes(st)) {
    acts.push(btn(t('acknowledge'), (ev) => act(ev.currentTarget, async () => {
      await api('POST', `/assignments/${a.id}/acknowledge`, {}); toast(t('acknowledged')); await reload();
    }), 'pri'));
  }
  if (a.applicable == null && ['issued', 'received', 'acknowledged'].includes(st)) acts.push(btn(t('declareApplicability'), () => open(applicabilityForm(a, reload))));
  if (FORWARDERS.includes(S.user.role) && ['acknowledged', 'forwarded', 'in_progress'].includes(st)) acts.push(btn(t('forward'), () => open(forwardForm(a, reload)), st === 'acknowledged' ? 'pri' : ''));
  if (['acknowledged', 'forwarded', 'in_progress', 'reported'].includes(st)) acts.push(btn(t('changeState'), () => open(stateForm(a, reload))));
  if (S.user.role !== 'lao') acts.push(h('a', {class: 'btn ghost', href: '#/cascade/' + a.directive_id, text: t('viewCascade')}));
  return h('article', {class: 'card' + (a.overdue ? ' late' : ''), 'data-assignment': a.id},
    h('div.meta', null, a.urgency && a.urgency !== 'normal' && badge(t('u_' + a.urgency), 'bad'), h('span', t('k_' + a.kind)), a.number_printed && h('span.docno', a.number_printed)),
    h('h2.title', a.subject_th),
    a.text_th && a.text_th !== a.subject_th && h('p.body', a.text_th),
    h('dl.facts', null,
      fact(t('state'), badge(t('as_' + st), aTone(a))),
      fact(t('receivedAt'), fdate(a.created_at, true)),
      a.acknowledge_due_at && fact(t('ackDue'), h('span', {class: a.overdue ? 'bad-t' : ''}, fdate(a.acknowledge_due_at, true), a.overdue ? ' · ' + t('overdue') : '')),
      a.receipt_number && fact(t('receiptNo'), dg(a.receipt_number)),  // stored with Arabic digits; shown as the user reads digits
      a.applicable != null && fact(t('applicability'), t(a.applicable ? 'applicable' : 'notApplicable'))),
    acts.length > 0 && h('div.actions', null, acts), panel);
}
function cancelBtn() { return btn(t('cancel'), (ev) => { const p = ev.currentTarget.closest('.panel'); p.hidden = true; fill(p); }, 'ghost'); }
function receiptForm(a, reload) {
  const no = h('input', {type: 'text', inputmode: 'numeric', autocomplete: 'off', required: true});
  const on = dateInput('received_on', todayText());
  const time = h('input', {type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: '09.30'});
  const ch = select(['paper', 'e-saraban', 'email', 'fax', 'hand'].map((c) => [c, t('ch_' + c)]), 'e-saraban');
  return form(t('registerReceipt'), [field('receipt_no', t('receiptNo'), no), field('received_on', t('receivedOn'), on.input, on.hint),
    field('received_time', t('receivedTime'), time), field('channel', t('channel'), ch)], t('save'), async () => {
    const body = {document_id: await documentIdOf(a.directive_id), receipt_no: no.value.trim(), received_on: on.iso() || '', channel: ch.value, assignment_id: a.id};
    if (time.value.trim()) body.received_time = fromThai(time.value.trim());
    const r = await api('POST', '/receipts', body);
    toast(t('receiptSaved', {no: body.receipt_no, y: dg(r.register_year_be)})); await reload();
  }, cancelBtn());
}
function applicabilityForm(a, reload) {
  const yes = h('input', {type: 'radio', name: 'ap' + a.id, value: '1', checked: true}), no = h('input', {type: 'radio', name: 'ap' + a.id, value: '0'});
  const note = h('textarea', {rows: 2});
  return form(t('declareApplicability'), [h('fieldset', {class: 'field', 'data-field': 'applicable'}, h('legend', t('applicability')),
    h('label.check', null, yes, t('applicable')), h('label.check', null, no, t('notApplicable')), h('p.err', null)),
  field('note', t('whyNot'), note)], t('save'), async () => {
    await api('POST', `/assignments/${a.id}/applicability`, {applicable: yes.checked, note: note.value.trim() || null});
    toast(t('saved')); await reload();
  }, cancelBtn());
}
function stateForm(a, reload) {
  const next = {acknowledged: ['in_progress', 'reported', 'closed'], forwarded: ['in_progress', 'reported', 'closed'], in_progress: ['reported', 'closed'], reported: ['closed']}[a.state] || [];
  const to = select(next.map((s) => [s, t('as_' + s)])), note = h('textarea', {rows: 2});
  return form(t('changeState'), [field('to_state', t('newState'), to), field('note', t('note'), note)], t('save'), async () => {
    await api('POST', `/assignments/${a.id}/state`, {to_state: to.value, note: note.value.trim() || null});
    toast(t('saved')); await reload();
  }, cancelBtn());
}
function forwardForm(a, reload) {
  const rb = ruleBuilder('addressees', {within: S.user.org_code, lockWithin: true, level: S.user.role === 'province' ? 'district_office' : 'lao'});
  const due = dateInput('acknowledge_due_at', '');
  return form(t('forward'), [rb.el, field('acknowledge_due_at', t('ackDueOpt'), due.input, due.hint)], t('forwardNow'), async () => {
    const body = {addressees: rb.rule()}, d = due.iso('16:30');
    if (d) body.acknowledge_due_at = d;
    const r = await api('POST', `/assignments/${a.id}/forward`, body);
    toast(t('forwarded', {n: num(r.child_assignment_ids.length)})); await reload();
  }, cancelBtn());
}
async function viewInbox() {
  const page = pageEl(t('inboxTitle'));
  const summary = h('p', {class: 'summary', role: 'status'}), list = h('div.list', null);
  const load = async () => {
    const items = (await api('GET', '/assignments?limit=200')).items;
    summary.textContent = t('inboxSummary', {n: num(items.length), open: num(items.filter((a) => ['issued', 'received'].includes(a.state)).length), late: num(items.filter((a) => a.overdue).length)});
    fill(list, ...(items.length ? items.map((a) => assignmentCard(a, load)) : [empty(t('inboxEmpty'))]));
  };
  await load();
  const notes = section(t('notesTitle'));
  loadNotes(notes);
  add(page, summary, list, notes);
  return page;
}
async function loadNotes(box) {
  const body = h('div', null, h('p.muted', t('loading')));
  add(box, body);
  try {
    const r = await api('GET', '/me/inbox?limit=20');
    fill(body, h('p.muted', t('unreadN', {n: num(r.unread)})), h('ul.notes', null, r.items.map((n) => {
      const status = h('span.status', null);
      return h('li', {class: n.read ? 'read' : 'unread'}, h('strong', n.subject), h('span.muted', ' · ' + fdate(n.created_at, true)),
        n.body && h('p.body', n.body),
        !n.read && btn(t('markRead'), (ev) => act(ev.currentTarget, async () => {
          await api('POST', `/me/inbox/${enc(n.id)}/read`, {}); ev.target.closest('li').className = 'read'; ev.target.remove();
        }, status), 'ghost sm'), status);
    })));
  } catch (e) {
    fill(body, h('p.notice', e.unavailable ? t('notesUnavailable') : errText(e)));
  }
}

// ------------------------------------------------------------------ LAO: obligations, the form, bulk upload
const oTone = (o) => ({open: o.overdue ? 'bad' : 'info', submitted: 'info', accepted: 'ok', returned: 'warn', missed: 'bad'}[o.state] || 'muted');
function dueCell(o) {
  const due = o.effective_due_at || o.due_at, rel = fdue(due), done = ['accepted', 'submitted', 'cancelled'].includes(o.state);
  return h('span.due', null, fdate(due, true), !done && h('small', {class: rel.late ? 'bad-t' : 'muted', text: ' · ' + rel.text}));
}
async function viewObligations() {
  const page = pageEl(t('oblTitle'));
  const items = (await api('GET', '/obligations?limit=500')).items;
  const stateSel = select([['', t('allStates')], ...['open', 'submitted', 'returned', 'missed', 'accepted'].map((s) => [s, t('os_' + s)])]);
  const list = h('div.list', null);
  const draw = () => {
    const shown = items.filter((o) => !stateSel.value || o.state === stateSel.value);
    fill(list, ...(shown.length ? shown.map((o) => h('article', {class: 'card' + (fdue(o.effective_due_at).late && ['open', 'returned', 'missed'].includes(o.state) ? ' late' : ''), 'data-obligation': o.id},
      h('div.meta', null, h('span', fperiod(o.period)), badge(t('os_' + o.state), oTone({...o, overdue: fdue(o.effective_due_at).late}))),
      h('h2.title', o.indicator_name_th),
      h('dl.facts', null, fact(t('due'), dueCell(o)), o.indicator_codes.length > 1 && fact(t('indicator'), o.indicator_codes.join(', '))),
      h('div.actions', null, h('a', {class: 'btn ' + (['open', 'returned', 'missed'].includes(o.state) ? 'pri' : ''), href: '#/obligation/' + o.id,
        text: ['open', 'returned', 'missed'].includes(o.state) ? t('submitReport') : t('open_')})))) : [empty(t('oblEmpty'))]));
  };
  stateSel.addEventListener('change', draw); draw();
  add(page, h('div.filters', null, field('state', t('state'), stateSel)), list, bulkUpload(items));
  return page;
}
function bulkUpload(items) {
  const file = h('input', {type: 'file', accept: '.csv,.xlsx,text/csv'});
  const keep = h('input', {type: 'checkbox'}), out = h('div', {class: 'result', 'aria-live': 'polite'});
  const openOnes = items.filter((o) => ['open', 'returned', 'missed'].includes(o.state));
  const csv = '\ufeffunit_code,indicator_code,period,value,note\n' + openOnes.flatMap((o) => o.indicator_codes.map((c) => `${o.unit_code},${c},${o.period},,`)).join('\n') + '\n';
  const tpl = h('a', {class: 'btn ghost', download: 'thongthin-template.csv', href: URL.createObjectURL(new Blob([csv], {type: 'text/csv'})), text: t('template')});
  const f = form(null, [h('p.hint', t('bulkHint')), field('file', t('file'), file), field('mode', t('keepGood'), keep)], t('upload'), async () => {
    if (!file.files.length) throw oops('file', 'required');
    const data = new FormData(); data.append('file', file.files[0]);
    let report;
    try { report = await api('POST', '/submissions/upload' + (keep.checked ? '?mode=keep_good_rows' : ''), data); } catch (e) {
      if (!(e.data && Array.isArray(e.data.errors))) throw e;
      report = e.data;  // 422 carries the row/column report
    }
    const rows = report.errors.map((x) => h('tr', null, h('td', num(x.row)), h('td', x.column || '–'), h('td', S.lang === 'en' ? x.message_en : x.message_th)));
    fill(out, h('p', {class: 'notice ' + (report.errors.length ? 'warn' : 'ok'), role: 'status', text: t('bulkResult', {f: report.filename, rows: num(report.data_rows), ok: num(report.accepted_submissions), bad: num(report.rows_with_errors)})}),
      report.errors.length && !report.accepted_submissions ? h('p.muted', t('bulkNothing')) : null,
      report.errors.length ? table([t('row'), t('column'), t('problem')], rows, 'errors') : null);
  }, openOnes.length ? tpl : null);
  return section(t('bulkTitle'), f, out);
}
async function viewObligation(id) {
  const o = await api('GET', `/obligations/${enc(id)}`);
  await unitNames();
  const page = pageEl(o.indicator_name_th, `${uname(o.unit_code)} · ${fperiod(o.period)}`);
  const extended = o.extended_due_at && o.effective_due_at !== o.due_at;
  page.prepend(h('a', {class: 'back', href: '#/obligations', text: t('back')}));
  add(page, h('dl.facts.box', null,
    fact(t('state'), badge(t('os_' + o.state), oTone({...o, overdue: fdue(o.effective_due_at).late}))),
    fact(t('due'), h('span', null, dueCell(o), extended ? h('small.muted', ' (' + t('extendedFrom', {d: fdate(o.due_at, true)}) + ')') : null)),
    o.state === 'returned' && o.resubmit_due_at && fact(t('resubmitBy'), fdate(o.resubmit_due_at, true)),
    o.opens_at && fact(t('opensAt'), fdate(o.opens_at, true)), o.closes_at && fact(t('closesAt'), fdate(o.closes_at, true))));
  const reload = () => route();
  if (['open', 'submitted', 'returned', 'missed'].includes(o.state) && ['lao', ...SUPERVISORS].includes(S.user.role)) add(page, submitForm(o, reload));
  add(page, historyBox(o));
  if (S.user.role === 'lao' || o.extension_requests.length) add(page, extensionBox(o, reload));
  return page;
}
function submitForm(o, reload) {
  const last = o.submissions.length ? o.submissions[o.submissions.length - 1] : null;
  const prev = {}; (last ? last.values : []).forEach((v) => { prev[v.indicator_code] = v; });
  const inputs = o.indicator_codes.map((code, i) => {
    const value = h('input', {type: 'text', inputmode: 'decimal', autocomplete: 'off', required: true, value: prev[code] ? String(prev[code].value) : ''});
    const note = h('textarea', {rows: 1, value: prev[code] && prev[code].note ? prev[code].note : ''});
    return {code, value, note, el: h('fieldset.indicator', null, h('legend', null, i === 0 ? o.indicator_name_th + ' ' : '', h('code', code)),
      field(`values[${i}].value`, t('value'), value), field(`values[${i}].note`, t('note'), note))};
  });
  const f = form(t({submitted: 'resubmit', returned: 'fixReturned'}[o.state] || 'submitReport'), inputs.map((x) => x.el), t('submitNow'), async () => {
    const values = inputs.map((x) => {
      const raw = fromThai(x.value.value).trim().replace(/,/g, ''), n = Number(raw.replace(/%$/, ''));
      return {indicator_code: x.code, value: raw !== '' && isFinite(n) ? n : raw, note: x.note.value.trim() || null};
    });
    const r = await api('POST', `/obligations/${o.id}/submissions`, {values});
    toast(t('submittedOk', {x: t(r.on_time ? 'onTime' : 'late')})); await reload();
  });
  return h('section', {class: 'box', 'aria-label': t('submitReport')}, f);
}
function historyBox(o) {
  const subs = [...o.submissions].reverse();
  return section(t('history'), subs.length ? h('ol.history', null, subs.map((s) => h('li', {'data-submission': s.id},
    h('div.meta', null, h('span', `${t('submittedAt')} ${fdate(s.submitted_at, true)}`), badge(t(s.on_time ? 'onTime' : 'late'), s.on_time ? 'ok' : 'warn'),
      badge(t('ss_' + s.status), {accepted: 'ok', returned: 'warn', pending: 'info'}[s.status] || 'muted'), h('span.muted', t('via_' + s.via))),
    h('ul.values', null, s.values.map((v) => h('li', null, h('code', v.indicator_code), ': ', h('strong', num(v.value)), v.note ? ' — ' + v.note : '',
      v.target_missed ? h('span.warn-t', ' (' + t('targetMissed') + ')') : null))),
    s.reviews.map((r) => h('p', {class: 'review ' + r.decision}, t('reviewBy', {d: t('ss_' + r.decision), u: uname(r.reviewer_unit_code)}), ' · ', fdate(r.reviewed_at, true), r.comment ? h('q', r.comment) : null))))) : empty(t('noHistory')));
}
function extensionBox(o, reload) {
  const box = section(t('extTitle'));
  add(box, ...o.extension_requests.map((x) => h('p.ext', null, badge(t('es_' + x.status), {granted: 'ok', denied: 'bad'}[x.status] || 'info'), ' ',
    t('extTo', {d: fdate(x.requested_due_at, true)}), ' — ', x.reason, x.comment ? h('q', x.comment) : null)));
  if (S.user.role === 'lao' && !o.extension_requests.some((x) => x.status === 'pending') && !['accepted', 'cancelled'].includes(o.state)) {
    const date = dateInput('requested_due_at', ''), reason = h('textarea', {rows: 2, required: true});
    add(box, form(null, [field('requested_due_at', t('extNew'), date.input, date.hint), field('reason', t('extReason'), reason)], t('extAsk'), async () => {
      const due = date.iso('16:30');
      if (!due) throw oops('requested_due_at', 'required');
      await api('POST', `/obligations/${o.id}/extension-requests`, {requested_due_at: due, reason: reason.value.trim()});
      toast(t('extAsked')); await reload();
    }));
  }
  return box;
}

// ------------------------------------------------------------------ district / province: follow-up
async function viewFollowup() {
  await unitNames();
  const page = pageEl(t('followTitle'), uname(S.user.org_code));
  const q = S.period ? '&period=' + enc(S.period) : '';
  const [all, late, exts, mine, sub] = await Promise.all([api('GET', '/obligations?limit=1000' + q), api('GET', '/obligations?overdue=1&limit=1000' + q),
    api('GET', '/extension-requests?limit=200'), api('GET', '/assignments?limit=200'), api('GET', '/assignments?mine=0&limit=1000')]);
  if (!S.period) S.periods = [...new Set(all.items.map((o) => o.period))].sort().reverse();
  const periodSel = select([['', t('allPeriods')], ...(S.periods || []).map((p) => [p, fperiod(p)])], S.period || '');
  periodSel.addEventListener('change', () => { S.period = periodSel.value; route(); });
  const by = {}; all.items.forEach((o) => { by[o.state] = (by[o.state] || 0) + 1; });
  const counts = [['total', all.items.length], ['overdue', late.items.length], ['notyet', (by.open || 0) + (by.missed || 0)], ['submitted', by.submitted || 0], ['returned', by.returned || 0], ['accepted', by.accepted || 0]];
  add(page, h('div.filters', null, field('period', t('period'), periodSel)),
    h('div.counts', null, counts.map(([k, n]) => h('div', {class: 'count ' + k, 'data-count': k}, h('span.n', num(n)), h('span.k', t('c_' + k))))),
    all.items.length >= 1000 ? h('p.muted', t('shownFirst', {n: num(1000)})) : null, stateBar(by, all.items.length));
  const byId = Object.fromEntries(all.items.map((o) => [o.id, o]));
  // who is late
  const lateRows = late.items.map((o) => {
    const status = h('span', {class: 'status', role: 'status'});
    const canChase = SUPERVISORS.includes(S.user.role) && ['open', 'missed'].includes(o.state);
    return h('tr', {'data-obligation': o.id}, h('td', null, unitCell(o.unit_code)), h('td', o.indicator_name_th), h('td', fperiod(o.period)),
      h('td', null, fdate(o.effective_due_at, true), h('br'), h('small.bad-t', fdue(o.effective_due_at).text)), h('td', null, badge(t('os_' + o.state), oTone({...o, overdue: true}))),
      h('td', null, canChase && btn(t('chase'), (ev) => act(ev.currentTarget, async () => {
        const r = await api('POST', '/notifications/chase', {obligation_id: o.id});
        status.className = 'status ok-t';
        status.textContent = chaseText(r);
      }, status), 'sm'), status));
  });
  add(page, section(t('lateTitle') + ` (${num(late.items.length)})`, lateRows.length ? table([t('unit'), t('indicator'), t('period'), t('due'), t('state'), ''], lateRows, 'late-table rows') : empty(t('lateNone')),
    lateRows.length ? downloads('/obligations', {overdue: 1, limit: 1000, period: S.period}) : null));
  // submissions awaiting review (one request per obligation: the API has no list of pending submissions)
  const waiting = all.items.filter((o) => o.state === 'submitted').slice(0, 30);
  const details = await Promise.all(waiting.map((o) => api('GET', `/obligations/${o.id}`).catch(() => null)));
  const reviewCards = details.filter(Boolean).map((d) => [d, d.submissions.filter((s) => s.status === 'pending').pop()]).filter(([, s]) => s).map(([d, s]) => reviewCard(d, s));
  add(page, section(t('reviewTitle') + ` (${num(reviewCards.length)})`, reviewCards.length ? h('div.list', null, reviewCards) : empty(t('reviewNone'))));
  // extension requests
  add(page, section(t('extsTitle') + ` (${num(exts.items.length)})`, exts.items.length ? h('div.list', null, exts.items.map((x) => extensionCard(x, byId[x.obligation_id]))) : empty(t('extsNone'))));
  // acknowledgements overdue in the subtree
  const unack = sub.items.filter((a) => a.overdue && a.unit_code !== S.user.org_code);
  add(page, section(t('unackTitle') + ` (${num(unack.length)})`, unack.length ? table([t('unit'), t('subject'), t('ackDue')], unack.map((a) => h('tr', null,
    h('td', null, unitCell(a.unit_code)), h('td', null, h('a', {href: '#/cascade/' + a.directive_id, text: a.subject_th})), h('td.bad-t', fdate(a.acknowledge_due_at, true)))), 'rows') : empty(t('unackNone'))));
  // the unit's own directives to acknowledge and forward
  const own = mine.items.filter((a) => !FINAL.includes(a.state));
  if (own.length) add(page, section(t('toForwardTitle') + ` (${num(own.length)})`, h('div.list', null, own.map((a) => assignmentCard(a, route)))));
  return page;
}
function stateBar(by, total) {
  if (!total) return null;
  const order = ['accepted', 'submitted', 'returned', 'open', 'missed'];
  return h('figure.chart', null, h('div', {class: 'stack', role: 'img', 'aria-label': t('chartLabel') + ': ' + order.map((s) => `${t('os_' + s)} ${num(by[s] || 0)}`).join(', ')},
    order.filter((s) => by[s]).map((s) => { const seg = h('span', {class: 'seg ' + s}); seg.style.width = (100 * by[s] / total) + '%'; return seg; })),
  h('figcaption', null, order.map((s) => h('span.key', null, h('i', {class: 'seg ' + s}), `${t('os_' + s)} ${num(by[s] || 0)}`))));
}
function reviewCard(o, s) {
  const comment = h('textarea', {rows: 2}), card = h('article', {class: 'card', 'data-submission': s.id});
  const decide = (decision) => async () => {
    await api('POST', `/submissions/${s.id}/review`, {decision, comment: comment.value.trim() || null});
    toast(t('reviewed_' + decision)); route();
  };
  const f = h('form', {class: 'form', novalidate: true}, field('comment', t('whyReturn'), comment), h('p', {class: 'err form-err', role: 'alert'}));
  const go = (decision) => (ev) => { clearErrors(f); act(ev.currentTarget, async () => { try { await decide(decision)(); } catch (e) { showError(f, e); } }); };
  add(f, h('div.actions', null, btn(t('accept'), go('accepted'), 'pri'), btn(t('returnIt'), go('returned'), 'warn')));
  add(card, h('div.meta', null, h('span', fperiod(o.period)), badge(t(s.on_time ? 'onTime' : 'late'), s.on_time ? 'ok' : 'warn')),
    h('h3.title', null, uname(o.unit_code), ' — ', o.indicator_name_th),
    h('p.muted', `${t('submittedAt')} ${fdate(s.submitted_at, true)} · ${t('via_' + s.via)}`),
    h('ul.values', null, s.values.map((v) => h('li', null, h('code', v.indicator_code), ': ', h('strong', num(v.value)), v.note ? ' — ' + v.note : ''))), f);
  return card;
}
function extensionCard(x, o) {
  const comment = h('textarea', {rows: 2});
  const f = h('form', {class: 'form', novalidate: true}, field('comment', t('whyDeny'), comment), h('p', {class: 'err form-err', role: 'alert'}));
  const go = (approve) => (ev) => { clearErrors(f); act(ev.currentTarget, async () => {
    try {
      await api('POST', `/extension-requests/${x.id}/decision`, {approve, comment: comment.value.trim() || null});
      toast(t(approve ? 'ext_granted' : 'ext_denied')); route();
    } catch (e) { showError(f, e); }
  }); };
  if (SUPERVISORS.includes(S.user.role)) add(f, h('div.actions', null, btn(t('approve'), go(true), 'pri'), btn(t('deny'), go(false), 'warn')));
  return h('article', {class: 'card', 'data-extension': x.id}, h('h3.title', null, uname(x.unit_code), o ? ' — ' + o.indicator_name_th : ''),
    h('dl.facts', null, o && fact(t('period'), fperiod(o.period)), o && fact(t('currentDue'), fdate(o.effective_due_at, true)),
      fact(t('extNew'), h('strong', fdate(x.requested_due_at, true))), fact(t('extReason'), x.reason), fact(t('askedAt'), fdate(x.requested_at, true))), f);
}

// ------------------------------------------------------------------ central: compose, addressee rules, live preview
function ruleBuilder(prefix, o = {}) {
  const level = select([['', t('anyLevel')], ...LEVELS.map((l) => [l, t('l_' + l)])], o.level || '');
  const within = h('input', {type: 'text', list: 'units-dl', autocomplete: 'off', value: o.within || '', readonly: !!o.lockWithin, placeholder: t('withinPh')});
  const codes = h('textarea', {rows: 2, placeholder: t('codesPh')});
  const attr = select([['', t('noCriterion')], ...['lao_type', 'level', 'province_code', 'district_code'].map((a) => [a, t('a_' + a)])]);
  const types = h('div', {class: 'checks', hidden: true}, LAO_TYPES.map((x) => h('label.check', null, h('input', {type: 'checkbox', value: x}), t('t_' + x))));
  const vals = h('input', {type: 'text', autocomplete: 'off'});
  const valsField = field(prefix + '.criterion.in', t('values'), vals);
  valsField.hidden = true;
  const preview = h('div', {class: 'preview', role: 'status', 'aria-live': 'polite', 'data-count': ''});
  const split = (s) => fromThai(s).split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
  const rule = () => {
    const r = {};
    if (level.value) r.level = level.value;
    if (within.value.trim()) r.within = within.value.trim();
    if (split(codes.value).length) r.codes = split(codes.value);
    if (attr.value) {
      const v = attr.value === 'lao_type' ? [...types.querySelectorAll('input:checked')].map((i) => i.value) : split(vals.value);
      if (v.length) r.criterion = {attribute: attr.value, in: v};
    }
    return r;
  };
  let seq = 0, timer;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const r = rule(), my = ++seq;
      preview.dataset.count = '';
      if (!Object.keys(r).length) return fill(preview, h('span.muted', t('pickAddressees')));
      preview.classList.add('busy');
      try {
        const p = await api('POST', '/addressees/preview', r);
        if (my !== seq) return;
        fill(preview, h('strong.n', t('reaches', {n: num(p.count)})), ' ',
          Object.entries(p.by_level).map(([l, n]) => chip(`${t('l_' + l)} ${num(n)}`)),
          p.sample.length ? h('p.sample', p.sample.slice(0, 6).map((x) => x.name_th).join(', ') + (p.count > 6 ? ' …' : '')) : null);
        preview.dataset.count = String(p.count);
      } catch (e) {
        if (my === seq) fill(preview, h('span.bad-t', errText(e)));
      } finally { if (my === seq) preview.classList.remove('busy'); }
    }, 300);
  };
  attr.addEventListener('change', () => { types.hidden = attr.value !== 'lao_type'; valsField.hidden = !attr.value || attr.value === 'lao_type'; });
  const el = h('fieldset', {class: 'rule', 'data-field': prefix}, h('legend', t('addressees')),
    field(prefix + '.level', t('level'), level), field(prefix + '.within', t('within'), within), field(prefix + '.codes', t('codes'), codes),
    h('div', {class: 'field', 'data-field': prefix + '.criterion'}, h('label', {for: 'c' + ++uid, text: t('criterion')}), Object.assign(attr, {id: 'c' + uid}), types, h('p.err', null)), valsField,
    h('p.err', null), preview);
  el.addEventListener('input', refresh); el.addEventListener('change', refresh);
  refresh();
  return {el, rule};
}
function reportingEditor(p) {
  const on = h('input', {type: 'checkbox'});
  const code = h('input', {type: 'text', autocomplete: 'off', required: true}), name = h('input', {type: 'text', required: true});
  const vt = select(['number', 'integer', 'percent', 'count', 'boolean'].map((v) => [v, t('vt_' + v)]), 'number');
  const uom = h('input', {type: 'text'}), min = h('input', {type: 'text', inputmode: 'decimal'}), max = h('input', {type: 'text', inputmode: 'decimal'});
  const mode = select([['once', t('once')], ['monthly', t('monthly')]]);
  const due = dateInput(p + '.due_at', ''), period = h('input', {type: 'text', autocomplete: 'off'}), day = h('input', {type: 'text', inputmode: 'numeric', value: '3'});
  const once = h('div.grid', null, field(p + '.due_at', t('dueDate'), due.input, due.hint), field(p + '.period', t('period'), period, t('periodHint')));
  const monthly = h('div', {class: 'grid', hidden: true}, field(p + '.rrule', t('monthDay'), day, t('monthDayHint')));
  let periodTouched = false;
  period.addEventListener('input', () => { periodTouched = true; });
  due.input.addEventListener('input', () => { const d = parseDate(due.input.value); if (d && !periodTouched) period.value = `${d.y + 543}-${pad(d.m)}`; });
  mode.addEventListener('change', () => { once.hidden = mode.value !== 'once'; monthly.hidden = mode.value === 'once'; });
  const body = h('div', {class: 'sub', hidden: true}, h('div.grid', null, field(p + '.indicator_code', t('indCode'), code), field(p + '.indicator_name_th', t('indName'), name),
    field(p + '.value_type', t('valueType'), vt), field(p + '.unit_of_measure', t('uom'), uom), field(p + '.minimum', t('min'), min), field(p + '.maximum', t('max'), max)),
  field(p + '.schedule', t('schedule'), mode), once, monthly);
  on.addEventListener('change', () => { body.hidden = !on.checked; body.querySelectorAll('input[required]').forEach((i) => { i.disabled = !on.checked; }); });
  body.querySelectorAll('input[required]').forEach((i) => { i.disabled = true; });
  const n = (x) => (x.value.trim() === '' ? null : Number(fromThai(x.value.trim())));
  return {el: h('div.reporting', null, h('label.check', null, on, t('withReporting')), body), get() {
    if (!on.checked) return null;
    const r = {indicator_code: code.value.trim(), indicator_name_th: name.value.trim(), value_type: vt.value};
    if (uom.value.trim()) r.unit_of_measure = uom.value.trim();
    if (n(min) != null) r.minimum = n(min);
    if (n(max) != null) r.maximum = n(max);
    if (mode.value === 'once') { r.due_at = due.iso('16:30'); r.period = fromThai(period.value.trim()) || null; } else {
      r.rrule = `FREQ=MONTHLY;BYMONTHDAY=${parseInt(fromThai(day.value), 10) || 3}`; r.due_time_local = '16:30';
    }
    return r;
  }};
}
function itemEditor(i) {
  const p = `items[${i}]`, kind = select(['order', 'guideline', 'observation', 'inspection_focus'].map((k) => [k, t('k_' + k)]));
  const text = h('textarea', {rows: 3, required: true}), rb = ruleBuilder(p + '.addressees'), ack = dateInput(p + '.acknowledge_due_at', ''), rep = reportingEditor(p + '.reporting');
  const el = h('fieldset', {class: 'item', 'data-item': i}, h('legend', t('itemN', {n: num(i + 1)})), field(p + '.kind', t('kind'), kind), field(p + '.text_th', t('itemText'), text),
    rb.el, field(p + '.acknowledge_due_at', t('ackDueOpt'), ack.input, ack.hint), rep.el);
  return {el, get() {
    const item = {kind: kind.value, text_th: text.value.trim(), addressees: rb.rule()}, d = ack.iso('16:30'), r = rep.get();
    if (d) item.acknowledge_due_at = d;
    if (r) item.reporting = r;
    return item;
  }};
}
async function viewCompose() {
  await unitNames();
  const page = pageEl(t('composeTitle'), t('composeLead'));
  const kind = select(['memo', 'letter', 'circular'].map((f) => [f, t('f_' + f)]), 'circular');
  const number = h('input', {type: 'text', autocomplete: 'off', placeholder: 'ที่ มท ๐๘๑๐.๔/ว ๙๙'});
  const date = dateInput('document_date', todayText()), urgency = select(['normal', 'urgent', 'very_urgent', 'most_urgent'].map((u) => [u, t('u_' + u)]), 'normal');
  const subject = h('textarea', {rows: 2, required: true});
  const items = [], itemsBox = h('div.items', null);
  const removeBtn = btn(t('removeItem'), () => { if (items.length > 1) { items.pop().el.remove(); removeBtn.hidden = items.length < 2; } }, 'ghost');
  removeBtn.hidden = true;
  const addItem = () => { const ed = itemEditor(items.length); items.push(ed); add(itemsBox, ed.el); removeBtn.hidden = items.length < 2; };
  addItem();
  const all = h('fieldset.plain', null, h('div.grid', null, field('form', t('form_'), kind), field('document_number', t('docNo'), number),
    field('document_date', t('docDate'), date.input, date.hint), field('urgency', t('urgency'), urgency)), field('subject_th', t('subject'), subject),
  itemsBox, h('div.actions', null, btn(t('addItem'), addItem), removeBtn));
  const result = h('div', {class: 'result', 'aria-live': 'polite'});
  let docId = null;
  const issueB = btn(t('issue'), (ev) => act(ev.currentTarget, async () => {
    const r = await api('POST', `/documents/${docId}/issue`);
    const list = recent();
    r.directives.forEach((d, k) => list.unshift({id: d.directive_id, number: number.value.trim(), subject: subject.value.trim() + (r.directives.length > 1 ? ` (${k + 1})` : ''), n: d.assignment_count}));
    localStorage.setItem('tt_recent', JSON.stringify(list.slice(0, 20)));
    issueB.hidden = true; attachBox.hidden = true;
    fill(result, h('p', {class: 'notice ok', role: 'status', text: t('issued', {n: num(r.assignment_count)})}),
      h('ul', null, r.directives.map((d, k) => h('li', null, h('a', {href: '#/cascade/' + d.directive_id, text: `${t('itemN', {n: num(k + 1)})}: ${t('viewCascade')} (${num(d.assignment_count)})`})))));
  }, result), 'pri');
  issueB.hidden = true;
  const file = h('input', {type: 'file'}), attached = h('ul.files', null);
  const attachBox = h('div', {class: 'attach', hidden: true}, field('file', t('attach'), file), btn(t('attach'), (ev) => act(ev.currentTarget, async () => {
    if (!file.files.length) return;
    const data = new FormData(); data.append('file', file.files[0]);
    await api('POST', `/documents/${docId}/attachments`, data);
    add(attached, h('li', t('attached', {f: file.files[0].name}))); file.value = '';
  })), attached);
  const again = btn(t('editAgain'), () => { docId = null; all.disabled = false; again.hidden = true; issueB.hidden = true; attachBox.hidden = true; saveB.hidden = false; fill(result); }, 'ghost');
  again.hidden = true;
  const f = form(null, [all], t('saveDraft'), async () => {
    // composed here = sent by the caller's own unit (central states it too: the API does not assume it)
    const body = {form: kind.value, document_date: date.iso() || date.input.value.trim(), urgency: urgency.value, subject_th: subject.value.trim(), sender_code: S.user.org_code, items: items.map((x) => x.get())};
    if (number.value.trim()) body.document_number = number.value.trim();
    const r = await api('POST', '/documents', body);
    docId = r.document_id; all.disabled = true; saveB.hidden = true; issueB.hidden = false; attachBox.hidden = false; again.hidden = false;
    fill(result, h('p', {class: 'notice ok', role: 'status', text: t('draftSaved')}), r.anomalies.map((a) => h('p.notice.warn', S.lang === 'en' ? a.message_en : a.message_th)));
    issueB.focus();
  }, [issueB, again]);
  const saveB = f.querySelector('button[type=submit]');
  add(page, unitsDatalist(), f, attachBox, result);
  return page;
}

// ------------------------------------------------------------------ the cascade of a directive
async function viewCascade(id) {
  await unitNames();
  if (!id) return cascadePicker();
  const [c, comp, obl] = await Promise.all([api('GET', `/directives/${enc(id)}/cascade`), api('GET', `/reports/directives/${enc(id)}/compliance`).catch(() => null),
    api('GET', `/obligations?directive_id=${enc(id)}&limit=1`).catch(() => null)]);
  // the cascade names its units (and who forwarded to them): names, not only codes, at every level
  c.units.forEach((u) => {
    if (u.name_th && !S.units[u.unit_code]) S.units[u.unit_code] = {code: u.unit_code, name_th: u.name_th, level: u.level};
    if (u.forwarded_by && u.forwarded_by_name_th && !S.units[u.forwarded_by]) S.units[u.forwarded_by] = {code: u.forwarded_by, name_th: u.forwarded_by_name_th};
  });
  const fsec = (sec) => (sec == null ? '–' : fhours(sec / 3600));  // the API gives seconds
  const known = recent().find((r) => r.id === id);
  const head = comp ? `${comp.document_number || ''} ${comp.title_th || ''}` : known ? `${known.number} ${known.subject}` : id;
  const page = pageEl(t('cascadeTitle'), head.trim());
  page.prepend(h('a', {class: 'back', href: '#/cascade', text: t('back')}));
  const rows = c.levels.map((l) => {
    const bar = h('span.fill', null); bar.style.width = ((l.acknowledgement_rate || 0) * 100) + '%';
    return h('tr', {'data-level': l.level}, h('th', {scope: 'row', text: t('l_' + l.level)}), ...['units', 'received', 'acknowledged', 'forwarded', 'not_applicable'].map((k) => h('td', {class: 'num', 'data-k': k, text: num(l[k])})),
      h('td', null, h('span', {class: 'meter', 'aria-hidden': 'true'}, bar), ' ', pct(l.acknowledgement_rate)), h('td', `${fsec(l.median_acknowledge_s)} / ${fsec(l.max_acknowledge_s)}`));
  });
  add(page, h('p', null, h('a', {href: '#/hops/' + enc(id), text: t('d_hopsLink')})));
  add(page, section(t('cascadeTitle'), table([t('level'), t('units'), t('k_received'), t('k_acknowledged'), t('k_forwarded'), t('k_na'), t('ackRate'), t('ackTime')], rows, 'levels')));
  if (comp && comp.expected && obl && obl.items.length) {  // a directive without a report has nothing to comply with
    add(page, section(t('reporting'), h('div.counts', null, [['expected', comp.expected], ...['pending', 'on_time', 'late', 'missed'].map((k) => ['r_' + k, comp.counts[k]])].map(([k, n]) =>
      h('div', {class: 'count', 'data-count': k}, h('span.n', num(n)), h('span.k', t(k))))), h('p.muted', `${t('onTimeRate')} ${pct(comp.on_time_rate)}`)));
  }
  const unitRow = (u, sec) => h('tr', null, h('td', null, unitCell(u.unit_code)), h('td', t('l_' + u.level)), h('td', fsec(sec)));
  add(page, h('div.two', null, section(t('slowest'), c.slowest_acknowledgements.length ? table([t('unit'), t('level'), t('ackTook')], c.slowest_acknowledgements.map((u) => unitRow(u, u.acknowledge_s))) : empty(t('none'))),
    section(t('waiting'), c.longest_waiting.length ? table([t('unit'), t('level'), t('waited')], c.longest_waiting.map((u) => unitRow(u, u.waiting_s))) : empty(t('none')))));
  const shown = c.units.slice(0, 300);
  add(page, h('details.box', null, h('summary', t('allUnits', {n: num(c.units.length)})), table([t('unit'), t('state'), t('parent'), t('k_received'), t('k_acknowledged'), t('k_forwarded'), t('hop')],
    shown.map((u) => h('tr', null, h('td', null, unitCell(u.unit_code)), h('td', null, badge(t('as_' + u.state), aTone(u))), h('td', u.forwarded_by ? uname(u.forwarded_by) : '–'),
      h('td', fdate(u.received_at, true)), h('td', fdate(u.acknowledged_at, true)), h('td', fdate(u.forwarded_at, true)), h('td', fsec(u.hop_s)))))));
  return page;
}
async function cascadePicker() {
  const page = pageEl(t('cascadeTitle'), t('pickDirective'));
  const seen = new Map(recent().map((r) => [r.id, r]));
  try {
    (await api('GET', '/assignments?mine=0&limit=1000')).items.forEach((a) => { if (!seen.has(a.directive_id)) seen.set(a.directive_id, {id: a.directive_id, number: a.number_printed, subject: a.subject_th}); });
  } catch (e) { add(page, h('p.notice.bad', errText(e))); }
  const idInput = h('input', {type: 'text', autocomplete: 'off', required: true});
  add(page, seen.size ? h('ul.directives', null, [...seen.values()].map((d) => h('li', null, h('a', {href: '#/cascade/' + d.id}, h('strong', d.subject || d.id), ' ', h('small', d.number || ''))))) : empty(t('noDirectives')),
    form(null, [field('directive_id', t('directiveId'), idInput)], t('open_'), async () => { location.hash = '#/cascade/' + enc(idInput.value.trim()); }));
  return page;
}

// ------------------------------------------------------------------ notification preferences and LINE
async function viewPrefs() {
  const page = pageEl(t('prefsTitle'), S.user.display_name);
  let p;
  try { p = await api('GET', '/me/notification-preferences'); } catch (e) {
    if (e.status === 401) throw e;
    add(page, h('p', {class: 'notice', role: 'status', text: e.unavailable ? t('prefsUnavailable') : errText(e)}));
    return page;
  }
  const email = h('input', {type: 'email', autocomplete: 'email', value: p.channels.email || ''}), sms = h('input', {type: 'tel', autocomplete: 'tel', value: p.channels.sms || ''});
  const qs = h('input', {type: 'text', inputmode: 'numeric', value: p.quiet_hours ? p.quiet_hours.start : '', placeholder: '20:00'});
  const qe = h('input', {type: 'text', inputmode: 'numeric', value: p.quiet_hours ? p.quiet_hours.end : '', placeholder: '07:00'});
  const digest = h('input', {type: 'checkbox', checked: !!p.digest});
  const lang = select([['th', 'ไทย'], ['en', 'English']], p.language), digits = select([['thai', t('d_thai')], ['arabic', t('d_arabic')]], p.date_digits);
  const optional = (p.classes && p.classes.optional) || [];
  const boxes = optional.map((c) => h('input', {type: 'checkbox', value: c, checked: p.opt_out.includes(c)}));
  add(page, section(t('n_prefs'), form(null, [h('div.grid', null, field('channels.email', t('email'), email), field('channels.sms', t('sms'), sms),
    field('quiet_hours.start', t('quietFrom'), qs), field('quiet_hours.end', t('quietTo'), qe), field('language', t('language'), lang), field('date_digits', t('dateDigits'), digits)),
  field('digest', t('digest'), digest),
  h('fieldset', {class: 'field', 'data-field': 'opt_out'}, h('legend', t('optOut')), boxes.map((b, i) => h('label.check', null, b, S.str.th['mc_' + optional[i]] ? t('mc_' + optional[i]) : optional[i])), h('p.err', null))],
  t('save'), async () => {
    const body = {language: lang.value, date_digits: digits.value, channels: {email: email.value.trim() || null, sms: sms.value.trim() || null}, digest: digest.checked, opt_out: boxes.filter((b) => b.checked).map((b) => b.value)};
    body.quiet_hours = qs.value.trim() || qe.value.trim() ? {start: fromThai(qs.value.trim()).replace('.', ':'), end: fromThai(qe.value.trim()).replace('.', ':')} : null;
    await api('PUT', '/me/notification-preferences', body);
    toast(t('saved'));
  })));
  const lineOut = h('div', {class: 'result', 'aria-live': 'polite'});
  const link = (target) => (ev) => act(ev.currentTarget, async () => {
    const r = await api('POST', '/me/line-link', {target});
    fill(lineOut, h('p.code', r.code), h('p', S.lang === 'en' ? r.instructions_en : r.instructions_th), h('p.muted', t('lineExpires', {d: fdate(r.expires_at, true)})));
  }, lineOut);
  add(page, section(t('line'), h('p', null, badge(p.channels.line.linked ? t('lineLinked', {n: num(p.channels.line.count)}) : t('lineNot'), p.channels.line.linked ? 'ok' : 'muted')),
    h('div.actions', null, btn(t('lineMe'), link('me'), 'pri'), S.user.role !== 'reviewer' && btn(t('lineOrg'), link('org'))), lineOut));
  return page;
}

// ------------------------------------------------------------------ start
// ------------------------------------------------------------------ a unit and its history (#/unit/<code>)
async function viewUnit(code) {
  const versions = (await api('GET', `/org-units/${enc(code || '')}/history`)).items;
  const last = versions[versions.length - 1];
  S.units[code] = S.units[code] || last;
  const link = (c) => h('a', {href: '#/unit/' + enc(c), 'data-unit-link': c, text: uname(c) + (S.units[c] ? ` (${c})` : '')});
  const links = (codes) => (codes && codes.length ? h('span', null, codes.map((c, i) => [i ? ', ' : '', link(c)])) : '–');
  const closed = last.valid_to && last.valid_to <= new Date(Date.now() + 7 * 3600e3).toISOString().slice(0, 10);  // Bangkok today
  const lastDay = (d) => { const x = new Date(d + 'T00:00:00Z'); x.setUTCDate(x.getUTCDate() - 1); return x.toISOString().slice(0, 10); };  // valid_to is exclusive
  const page = pageEl(last.name_th, `${code} · ${t('l_' + last.level)}${last.lao_type ? ' · ' + t('t_' + last.lao_type) : ''}`);
  if (closed) add(page, h('p', {class: 'notice', role: 'status'}, `${t('uh_closedOn')} ${fdate(last.valid_to)}`,
    last.successor_codes.length ? [' · ', t('uh_successors'), ': ', links(last.successor_codes)] : null));
  const rows = versions.slice().reverse().map((v) => h('tr', {'data-version': v.valid_from},
    h('td', `${fdate(v.valid_from)} – ${v.valid_to ? fdate(lastDay(v.valid_to)) : t('uh_now')}`),
    h('td', null, badge(t('ck_' + v.change_kind)), v.forced ? [' ', badge(t('uh_forced'), 'bad')] : null),
    h('td', v.name_th), h('td', v.lao_type ? t('t_' + v.lao_type) : t('l_' + v.level)),
    h('td', null, v.parent_code ? link(v.parent_code) : '–'),
    h('td', null, links(v.predecessor_codes)), h('td', null, links(v.successor_codes)),
    h('td', v.reason || (v.end_kind ? `${t('uh_endedBy')} ${t('ck_' + v.end_kind)}` : '–'))));
  add(page, section(t('uh_history'), table([t('uh_period'), t('uh_change'), t('uh_name'), t('uh_type'), t('uh_parent'),
    t('uh_predecessors'), t('uh_successors'), t('uh_reason')], rows, 'rows history-table')));
  return page;
}

const ROUTES = {inbox: viewInbox, obligations: viewObligations, obligation: viewObligation, prefs: viewPrefs, followup: viewFollowup, compose: viewCompose, cascade: viewCascade, unit: viewUnit};
// What the dashboards (dash.js, loaded after this file) build their pages with.
window.TT = {S, t, h, api, ApiError, errText, act, toast, fill, add, section, pageEl, table, select, field, btn, badge, empty, fdate, fwhen, chaseText, fperiod, fdue,
  num, pct, dg, enc, downloads, unitNames, uname, unitCell, recent, ROUTES, NAV, HIDDEN, route, SUPERVISORS};
async function boot() {
  // deferred scripts (charts.js, dash.js) have all run by DOMContentLoaded: their routes exist before the first one is drawn
  if (document.readyState === 'loading') await new Promise((done) => document.addEventListener('DOMContentLoaded', done, {once: true}));
  const who = api('GET', '/me', undefined, {auth: false}).then((user) => ({user}), (error) => ({error}));
  const [ok] = await Promise.all([strings('th'), S.lang === 'en' ? strings('en') : true]);
  if (!ok) return fill($('#main'), h('p.notice.bad', 'โหลดระบบไม่สำเร็จ กรุณาโหลดหน้าใหม่ / Could not load; please reload the page'));
  if (!S.str.en) S.lang = 'th';
  renderTop();
  const {user, error} = await who;
  if (error && error.status === 401) return showLogin();
  if (error) return fill($('#main'), h('div.page', null, h('p', {class: 'notice bad', role: 'alert', text: errText(error)}), btn(t('retry'), boot)));
  S.user = user;
  start();
}
boot();
})();
