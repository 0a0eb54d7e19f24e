/* Thongthin: dashboards (after app.js and charts.js). Hash routes:
   #/dashboard[/<unit>/<child>/…]  on-time rate by child unit (bars), over periods (line), child × period (heatmap), drill down
   #/hops[/<directive>]             a directive's cascade from the reporting read model: levels, slowest hops
   #/indicator[/<code>/<fy>/<unit>] an indicator's actuals against targets (bars with target ticks, trend lines)
   #/overdue                        past due and not submitted, with a chase button
   Every table links its CSV and XLSX (the API's ?format=csv|xlsx). Numbers come from /api/v1/reports/*. */
'use strict';
(() => {
const T = window.TT, C = window.TTCharts;
if (!T || !C) return;
const {S, t, h, api, act, fill, add, section, pageEl, table, select, field, btn, badge, empty, fdate, fperiod, num, pct, enc, uname, unitCell, errText} = T;
const ADD = {central: ['dashboard', 'overdue', 'indicator'], ops: ['dashboard', 'overdue'], province: ['dashboard', 'overdue', 'indicator'],
  district: ['dashboard', 'overdue', 'indicator'], reviewer: ['dashboard', 'indicator'], lao: ['dashboard']};
for (const [role, extra] of Object.entries(ADD)) {
  const nav = T.NAV[role];
  // a supervisor's dashboard right after its first tab; an LAO's last but one
  nav.splice(role === 'lao' ? nav.length - 1 : 1, 0, ...extra.filter((r) => !nav.includes(r)));
}
T.HIDDEN.hops = 'dashboard';
const qs = (params) => Object.entries(params).filter(([, v]) => v != null && v !== '').map(([k, v]) => `${k}=${enc(v)}`).join('&');
const learn = (rows) => rows.forEach((r) => { if (r.code && r.name_th && !S.units[r.code]) S.units[r.code] = {code: r.code, name_th: r.name_th, level: r.level}; });
const downloads = T.downloads;
const figure = (chart, caption) => h('figure', {class: 'dchart'}, chart, caption && h('figcaption.muted', caption));
const count = (k, label, text) => h('div', {class: 'count', 'data-count': k}, h('span.n', text), h('span.k', label));
const short = (name) => String(name || '').replace(/^สำนักงานส่งเสริมการปกครองท้องถิ่น/, '').replace(/^(Provincial|District) Office of Local Administration /, '');
const speriod = (p) => fperiod(p).split(' · ')[0];  // "ส.ค. 2569" without the fiscal year

// ------------------------------------------------------------------ national → province → district → LAO
async function viewDashboard(...path) {
  await T.unitNames();
  const unit = path.length ? path[path.length - 1] : (['central', 'ops'].includes(S.user.role) ? null : S.user.org_code);
  const period = S.dperiod || '';
  const base = {unit_code: unit, period};
  const report = await api('GET', '/reports/compliance?' + qs(base));
  learn(report.children);
  if (report.unit && report.unit.code) learn([report.unit]);
  const name = report.unit && report.unit.name_th ? report.unit.name_th : (unit ? uname(unit) : t('d_nation'));
  const page = pageEl(t('d_title'), name);
  // where we are: the caller's root, then each unit drilled into
  const root = ['central', 'ops'].includes(S.user.role) ? t('d_nation') : uname(S.user.org_code);
  const crumbs = [h('a', {href: '#/dashboard', text: root})];
  path.forEach((code, i) => { if (code !== S.user.org_code || i) crumbs.push(' › ', i === path.length - 1 ? h('span', {'aria-current': 'page', text: uname(code)}) : h('a', {href: '#/dashboard/' + path.slice(0, i + 1).map(enc).join('/'), text: uname(code)})); });
  page.prepend(h('nav', {class: 'crumbs', 'aria-label': t('d_where')}, crumbs));
  const periodSel = select([['', t('allPeriods')], ...[...report.periods].reverse().map((p) => [p, fperiod(p)])], period);
  periodSel.addEventListener('change', () => { S.dperiod = periodSel.value; T.route(); });
  const tot = report.totals;
  add(page, h('div.filters', null, field('period', t('period'), periodSel)),
    h('div', {class: 'counts dcounts'}, count('expected', t('expected'), num(tot.expected)), count('on_time', t('r_on_time'), num(tot.on_time)),
      count('late', t('r_late'), num(tot.late)), count('missing', t('d_missing'), num(tot.missing)), count('pending', t('d_pending'), num(tot.pending)),
      count('returned', t('d_returned'), num(tot.returned)),
      count('on_time_rate', t('onTimeRate'), pct(tot.on_time_rate)), count('reported_rate', t('d_reportedRate'), pct(tot.reported_rate))),
    h('p.muted', t('d_flags', {e: num(tot.extended)})));
  const isLao = report.unit && report.unit.level === 'lao';
  if (isLao) {  // one row per obligation
    add(page, section(t('d_obligations'), report.children.length ? table([t('period'), t('indicator'), t('due'), t('state')], report.children.map((o) => h('tr', {'data-obligation': o.obligation_id || ''},
      h('td', fperiod(o.period)), h('td', o.indicator_name_th || o.rule_id || '–'), h('td', fdate(o.due_at, true)), h('td', null, badge(t('d_s_' + o.status) === 'd_s_' + o.status ? o.status : t('d_s_' + o.status), {on_time: 'ok', late: 'warn', missing: 'bad', returned: 'warn'}[o.status] || 'info')))), 'rows dtable') : empty(t('none')),
    downloads('/reports/compliance', base)));
    return page;
  }
  const drill = (code) => '#/dashboard/' + [...path, code].map(enc).join('/');
  const kids = report.children;
  // bars: on-time rate by child unit
  add(page, section(t('d_byChild'), kids.length ? figure(C.bars(kids.map((c) => ({key: c.code, label: short(c.name_th) || c.code, value: c.on_time_rate})),
    {max: 1, fmt: pct, colorBy: 'rate', href: (i) => drill(i.key), label: t('d_byChild')}), t('d_barsNote')) : empty(t('none'))));
  // per kind of period (months, quarters, fiscal years never share an axis): the line (this unit over
  // the periods, from the matrix's totals) and the heatmap (children × periods); a period not yet due
  // has no rate (a gap, never a red 0)
  const kinds = ['month', 'quarter', 'year'].filter((k) => (report.periods_by_kind || {})[k] && report.periods_by_kind[k].length);
  const matrices = await Promise.all(kinds.map((k) => api('GET', '/reports/compliance/matrix?' + qs({unit_code: unit, kind: k}))));
  matrices.forEach((matrix) => {
    const periods = matrix.periods, kind = matrix.kind;
    if (!periods.length) return;
    const suffix = kinds.length > 1 ? ` · ${t('d_kind_' + kind)}` : '';
    const perPeriod = periods.map((p) => ({x: p, y: (matrix.totals[p] || {}).on_time_rate, reported: (matrix.totals[p] || {}).reported_rate}));
    add(page, section(t('d_overTime') + suffix, figure(C.lines([{name: t('onTimeRate'), points: perPeriod}, {name: t('d_reportedRate'), cls: 'second', points: perPeriod.map((p) => ({x: p.x, y: p.reported}))}],
      {max: 1, min: 0, fmt: pct, xfmt: speriod, label: t('d_overTime')}))));
    add(page, section(t('d_heat') + suffix, matrix.rows.length ? figure(C.heatmap(matrix.rows.map((r) => ({key: r.code, label: short(r.name_th) || r.code, cells: r.cells})), periods,
      {fmt: pct, xfmt: speriod, href: (r) => drill(r.key), label: t('d_heat')}), t('d_heatNote')) : empty(t('none')),
    downloads('/reports/compliance/matrix', {unit_code: unit, periods: periods.join(',')})));
  });
  // the table behind the bars
  const head = [t('unit'), t('expected'), t('r_on_time'), t('r_late'), t('d_missing'), t('d_pending'), t('d_extended'), t('d_returned'), t('onTimeRate'), t('d_reportedRate')];
  const keys = ['expected', 'on_time', 'late', 'missing', 'pending', 'extended', 'returned'];
  add(page, section(t('d_table'), kids.length ? table(head, kids.map((c) => h('tr', {'data-code': c.code},
    h('td', null, h('a', {href: drill(c.code), title: c.name_th, text: short(c.name_th) || c.code}), h('small.muted', ' ' + c.code)),
    keys.map((k) => h('td', {class: 'num', 'data-k': k, text: num(c[k])})),
    h('td', {class: 'num', 'data-k': 'on_time_rate', text: pct(c.on_time_rate)}), h('td', {class: 'num', 'data-k': 'reported_rate', text: pct(c.reported_rate)}))), 'dtable') : empty(t('none')),
  downloads('/reports/compliance', base)));
  return page;
}

// ------------------------------------------------------------------ a directive's cascade (reporting read model)
async function viewHops(id) {
  await T.unitNames();
  if (!id) return hopsPicker();
  const r = await api('GET', `/reports/directives/${enc(id)}/cascade`);
  learn(r.units.map((u) => ({code: u.unit_code, name_th: u.name_th, level: u.level})));
  learn(r.units.filter((u) => u.forwarded_by).map((u) => ({code: u.forwarded_by, name_th: u.forwarded_by_name_th})));
  const d = r.directive || {};
  const page = pageEl(t('d_hopsTitle'), `${d.document_number || ''} ${d.title_th || ''}`.trim() || id);
  page.prepend(h('a', {class: 'back', href: '#/hops', text: t('back')}));
  add(page, h('p.muted', t('d_issued', {d: fdate(d.issued_at, true), n: num(d.addressee_count)})), h('p', null, h('a', {href: '#/cascade/' + enc(id), text: t('viewCascade')})));
  const hrs = (sec) => (sec == null ? '–' : hoursText(sec));
  add(page, section(t('d_levels'), r.levels.length ? table([t('level'), t('units'), t('k_received'), t('k_acknowledged'), t('k_forwarded'), t('ackRate'), t('d_medianHop'), t('d_maxHop')],
    r.levels.map((l) => h('tr', {'data-level': l.level}, h('th', {scope: 'row', text: t('l_' + l.level)}), ['units', 'received', 'acknowledged', 'forwarded'].map((k) => h('td', {class: 'num', 'data-k': k, text: num(l[k])})),
      h('td', {class: 'num', 'data-k': 'acknowledgement_rate', text: pct(l.acknowledgement_rate)}), h('td', {'data-k': 'median_hop_s', text: hrs(l.median_hop_s)}), h('td', {'data-k': 'max_hop_s', text: hrs(l.max_hop_s)}))), 'dtable') : empty(t('none')),
  r.levels.length ? figure(C.bars(r.levels.map((l) => ({key: l.level, label: t('l_' + l.level), value: l.acknowledgement_rate})), {max: 1, fmt: pct, colorBy: 'rate', label: t('ackRate')}), t('ackRate')) : null,
  downloads(`/reports/directives/${enc(id)}/cascade`, {table: 'levels'})));
  add(page, section(t('d_slowest'), r.slowest_hops.length ? table([t('unit'), t('level'), t('d_from'), t('k_received'), t('d_hop')], r.slowest_hops.map((u) => h('tr', {'data-unit': u.unit_code},
    h('td', null, unitCell(u.unit_code)), h('td', t('l_' + u.level)), h('td', u.forwarded_by ? uname(u.forwarded_by) : '–'), h('td', fdate(u.received_at, true)), h('td', {'data-k': 'hop_s', text: hrs(u.hop_s)}))), 'rows dtable') : empty(t('none')),
  downloads(`/reports/directives/${enc(id)}/cascade`, {table: 'slowest_hops'}), h('p.muted', t('d_allUnitsFile', {n: num(r.units.length)})),
  downloads(`/reports/directives/${enc(id)}/cascade`, {table: 'units'})));
  return page;
}
function hoursText(sec) {
  const hh = sec / 3600;
  if (hh < 1) return t('nMin', {n: num(Math.max(1, Math.round(sec / 60)))});
  if (hh < 48) return t('hrs', {n: num(Math.round(hh * 10) / 10)});
  return t('days', {n: num(Math.round(hh / 2.4) / 10)});
}
async function hopsPicker() {
  const page = pageEl(t('d_hopsTitle'), t('pickDirective'));
  const seen = new Map(T.recent().map((r) => [r.id, r]));
  try {
    (await api('GET', '/assignments?mine=0&limit=1000')).items.forEach((a) => { if (!seen.has(a.directive_id)) seen.set(a.directive_id, {id: a.directive_id, number: a.number_printed, subject: a.subject_th}); });
  } catch (e) { add(page, h('p.notice.bad', errText(e))); }
  add(page, seen.size ? h('ul.directives', null, [...seen.values()].map((d) => h('li', null, h('a', {href: '#/hops/' + enc(d.id)}, h('strong', d.subject || d.id), ' ', h('small', d.number || ''))))) : empty(t('noDirectives')));
  return page;
}

// ------------------------------------------------------------------ an indicator against its targets
async function viewIndicator(code, fy, unit) {
  await T.unitNames();
  const now = new Date(Date.now() + 7 * 3600e3), thisFy = now.getUTCFullYear() + 543 + (now.getUTCMonth() >= 9 ? 1 : 0);
  const page = pageEl(t('d_indTitle'), t('d_indLead'));
  const codeIn = h('input', {type: 'text', autocomplete: 'off', list: 'ind-dl', value: code || '', required: true});
  const fyIn = h('input', {type: 'text', inputmode: 'numeric', value: fy || String(thisFy)});
  const unitIn = h('input', {type: 'text', autocomplete: 'off', value: unit || '', placeholder: S.user.org_code});
  const known = new Set();
  try { (await api('GET', '/obligations?limit=500')).items.forEach((o) => o.indicator_codes.forEach((c) => known.add(c))); } catch { /* suggestions are a nicety */ }
  const f = h('form', {class: 'form filters'}, h('datalist', {id: 'ind-dl'}, [...known].sort().map((c) => h('option', {value: c}))),
    field('indicator_code', t('d_indCode'), codeIn), field('fiscal_year', t('d_fy'), fyIn), field('unit_code', t('unit'), unitIn),
    h('div.actions', null, h('button', {type: 'submit', class: 'btn pri', text: t('d_show')})));
  f.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = '#/indicator/' + [codeIn.value.trim(), T.dg(fyIn.value.trim()).replace(/[๐-๙]/g, (c) => c.charCodeAt(0) - 0x0E50), unitIn.value.trim()].filter(Boolean).map(enc).join('/'); });
  add(page, f);
  if (!code) { add(page, empty(t('d_indPick'))); return page; }
  const params = {indicator_code: code, fiscal_year: fy || thisFy, unit_code: unit || null};
  let r;
  try { r = await api('GET', '/reports/achievement?' + qs(params)); } catch (e) { add(page, h('p', {class: 'notice bad', role: 'alert', text: errText(e)})); return page; }
  learn(r.rows);
  const ind = r.indicator || {};
  add(page, h('h2', null, ind.name_th || code, ' ', h('code', ind.code || code), ind.unit_of_measure ? h('small.muted', ` (${ind.unit_of_measure})`) : null),
    h('div', {class: 'counts dcounts'}, ['achieved', 'not_achieved', 'at_risk', 'no_target', 'no_data'].map((k) => count(k, t('d_a_' + k), num(r.summary[k])))));
  const rows = r.rows.filter((x) => x.actual != null || x.target != null);
  add(page, section(t('d_vsTarget'), rows.length ? figure(C.bars(rows.map((x) => ({key: x.code, label: short(x.name_th) || x.code, value: x.actual, target: x.target,
    fill: {achieved: '#1f8a4c', not_achieved: '#c4312b'}[x.status] || '#0b4f94'})), {fmt: num, target: (i) => i.target, label: t('d_vsTarget'),
    href: (i) => '#/indicator/' + [code, params.fiscal_year, i.key].map(enc).join('/')}), t('d_tickNote')) : empty(t('none')),
  r.rows.length ? table([t('unit'), t('d_actual'), t('d_target'), t('state')], r.rows.map((x) => h('tr', {'data-code': x.code}, h('td', {title: x.name_th}, short(x.name_th) || x.code, h('small.muted', ' ' + x.code)),
    h('td', {class: 'num', 'data-k': 'actual', text: num(x.actual)}), h('td', {class: 'num', 'data-k': 'target', text: num(x.target)}),
    h('td', null, badge(t('d_a_' + x.status) === 'd_a_' + x.status ? String(x.status) : t('d_a_' + x.status), {achieved: 'ok', not_achieved: 'bad', at_risk: 'warn'}[x.status] || 'muted')))), 'dtable') : null,
  downloads('/reports/achievement', {...params, table: 'rows'})));
  add(page, section(t('d_trend'), r.trend.length ? figure(C.lines([{name: t('d_actual'), points: r.trend.map((p) => ({x: p.period, y: p.actual}))},
    {name: t('d_target'), cls: 'second', points: r.trend.map((p) => ({x: p.period, y: p.target}))}], {fmt: num, xfmt: speriod, label: t('d_trend')})) : empty(t('none')),
  r.trend.length ? downloads('/reports/achievement', {...params, table: 'trend'}) : null));
  return page;
}

// ------------------------------------------------------------------ overdue, with a chase button per row
async function viewOverdue() {
  await T.unitNames();
  const page = pageEl(t('d_overTitle'), uname(S.user.org_code));
  const body = h('tbody', null), total = h('p', {class: 'summary', role: 'status'}), more = btn(t('d_more'), () => act(more, load), 'ghost');
  let offset = 0;
  const canChase = T.SUPERVISORS.includes(S.user.role);
  const load = async () => {
    const r = await api('GET', '/reports/overdue?' + qs({limit: 100, offset}));
    learn(r.items.map((o) => ({code: o.unit_code, name_th: o.name_th, level: 'lao'})));
    total.textContent = t('d_overN', {n: num(r.total)}); total.dataset.total = r.total;
    add(body, r.items.map((o) => {
      const status = h('span', {class: 'status', role: 'status'});
      return h('tr', {'data-obligation': o.obligation_id}, h('td', null, o.name_th || o.unit_code, h('small.muted', ' ' + o.unit_code)), h('td', o.indicator_name_th || o.indicator_code),
        h('td', fperiod(o.period)), h('td', {'data-k': 'due_at', text: fdate(o.due_at, true)}), h('td', {class: 'num bad-t', 'data-k': 'days_late', text: num(o.days_late)}),
        h('td', {class: 'num', 'data-k': 'reminders_sent', text: num(o.reminders_sent)}),
        h('td', null, canChase && btn(t('chase'), (ev) => act(ev.currentTarget, async () => {
          const c = await api('POST', '/notifications/chase', {obligation_id: o.obligation_id});
          status.className = 'status ok-t'; status.textContent = TT.chaseText(c);
        }, status), 'sm'), status));
    }));
    offset += r.items.length;
    more.hidden = offset >= r.total;
  };
  await load();
  add(page, total, section(t('d_overTitle'), table([t('unit'), t('indicator'), t('period'), t('due'), t('d_daysLate'), t('d_reminders'), ''], [], 'rows dtable overdue-table'), more, downloads('/reports/overdue', {limit: 1000})));
  page.querySelector('.overdue-table tbody').replaceWith(body);
  return page;
}

Object.assign(T.ROUTES, {dashboard: viewDashboard, hops: viewHops, indicator: viewIndicator, overdue: viewOverdue});
})();
