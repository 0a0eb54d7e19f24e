/* Thongthin: the annual LPA (after app.js, charts.js). Hash routes:
   #/lpa                    the round for the caller's role: central (frameworks beside last year's, open a round,
                            progress, publish), province/district (checklist by district), LAO (its assessment)
   #/lpaa/<assessment id>   one assessment: the LAO's self-assessment per indicator (scale, note, evidence, draft or
                            submit); a team member's score beside the claim, the evidence and last year's; the lead
                            finalises; central returns it
   #/lpat                   teams: the province forms one (refused without a community leader), anyone sees theirs
   #/lpaf                   follow-ups of weak areas: the LAO's improvement plan, the district/province closes them
   #/lpar                   results and dashboard: summary, distribution, ranks (from reporting), public page link
   Strings are here (Thai first, English), every table links its CSV/XLSX. */
'use strict';
(() => {
const T = window.TT, C = window.TTCharts;
if (!T) return;
const {S, h, api, act, toast, fill, add, section, pageEl, table, select, field, btn, badge, empty, fdate, num, enc, uname, unitCell, errText, downloads} = T;
const L = {
  th: {n_lpa: 'ประเมิน LPA', n_lpat: 'ทีมประเมิน', n_lpaf: 'ติดตาม LPA', n_lpar: 'ผล LPA', n_lpaa: 'แบบประเมิน LPA',
    title: 'การประเมินประสิทธิภาพของ อปท. (LPA)', synthetic: 'ข้อมูลสาธิต (สังเคราะห์)', frameworks: 'หลักเกณฑ์รายปี', changes: 'เปลี่ยนจากปีก่อน',
    noChanges: 'ไม่มีการเปลี่ยนแปลง', year: 'ปี พ.ศ.', open: 'เปิดรอบการประเมิน', scope: 'ขอบเขต (รหัสจังหวัด/อำเภอ ว่าง = ทั้งประเทศ)',
    selfDue: 'กำหนดส่งประเมินตนเอง', visitFrom: 'ตรวจประเมินตั้งแต่', visitTo: 'ถึงวันที่', publishOn: 'วันประกาศผล', opened: 'เปิดรอบแล้ว',
    rounds: 'รอบการประเมิน', state: 'สถานะ', laos: 'อปท.', selfDone: 'ส่งประเมินตนเอง', late: 'ส่งช้า', withTeam: 'มีทีม', finalised: 'สรุปผลแล้ว',
    passed: 'ผ่านเกณฑ์', publish: 'ประกาศผล', published: 'ประกาศผลแล้ว', checklist: 'รายการ อปท.', district: 'อำเภอ', lao: 'อปท.',
    self: 'ประเมินตนเอง', score: 'ผลคะแนน', pct: 'ร้อยละ', openA: 'เปิด', s_draft: 'ร่าง', s_submitted: 'ส่งแล้ว', s_pending: 'รอทีม',
    s_finalised: 'สรุปแล้ว', s_returned: 'ส่งกลับแก้ไข', s_open: 'เปิดอยู่', s_closed: 'ปิดแล้ว', s_published: 'ประกาศแล้ว', lateMark: 'ส่งช้า',
    indicator: 'ตัวชี้วัด', scale: 'เกณฑ์การให้คะแนน', claim: 'คะแนนที่ประเมินตนเอง', note: 'คำอธิบาย', evidence: 'หลักฐาน',
    addLink: 'เพิ่มลิงก์', addFile: 'แนบไฟล์', saveDraft: 'บันทึกร่าง', submit: 'ส่งแบบประเมิน', saved: 'บันทึกแล้ว', submitted: 'ส่งแล้ว',
    points: 'คะแนนทีม', comment: 'ความเห็นทีม', lastYear: 'ปีก่อน', saveScores: 'บันทึกคะแนน', finalise: 'สรุปผลคะแนน (หัวหน้าทีม)',
    ret: 'ส่งกลับให้ทีมแก้ไข', reason: 'เหตุผล', returned: 'ส่งกลับแล้ว', pilot: 'นำร่อง (ไม่นับคะแนน)', due: 'กำหนดส่ง', total: 'รวม',
    teams: 'ทีมประเมิน', formTeam: 'ตั้งทีมประเมิน', laosOfTeam: 'อปท. ที่ประเมิน (รหัส คั่นด้วยจุลภาค)', visitOn: 'วันตรวจประเมิน',
    members: 'กรรมการ', person: 'ชื่อผู้ใช้หรือชื่อผู้นำชุมชน', role: 'บทบาท', unit: 'หน่วยงาน', r_lead: 'หัวหน้าทีม', r_member: 'กรรมการ',
    r_community_leader: 'ผู้นำชุมชน', addMember: 'เพิ่มกรรมการ', formed: 'ตั้งทีมแล้ว', followUps: 'การติดตามด้านที่ต้องพัฒนา', area: 'ด้าน',
    plan: 'แผนพัฒนา', savePlan: 'บันทึกแผนพัฒนา', close: 'ปิดรายการ', closed: 'ปิดแล้ว', results: 'ผลการประเมิน', assessed: 'ประเมินแล้ว',
    passRate: 'อัตราผ่าน', mean: 'ร้อยละเฉลี่ย', dist: 'การกระจายของคะแนน', rankP: 'อันดับในจังหวัด', rankT: 'อันดับในประเภท',
    change: 'เทียบปีก่อน', publicPage: 'หน้าสาธารณะ', noRound: 'ยังไม่มีรอบการประเมิน', mine: 'แบบประเมินของ อปท.', yes: 'ผ่าน', no: 'ไม่ผ่าน',
    dryRun: 'ตรวจสอบก่อนนำเข้า', importFw: 'นำเข้าหลักเกณฑ์ (YAML/JSON)', imported: 'นำเข้าแล้ว', file: 'ไฟล์', url: 'ลิงก์ (https://…)', remind: 'เตือน อปท.', nothingToRemind: 'ไม่มีรายการที่ต้องเตือน'},
  en: {n_lpa: 'LPA', n_lpat: 'Assessor teams', n_lpaf: 'LPA follow-ups', n_lpar: 'LPA results', n_lpaa: 'LPA assessment',
    title: 'Local Performance Assessment (LPA)', synthetic: 'Demo data (synthetic)', frameworks: 'Frameworks by year', changes: 'Changes from last year',
    noChanges: 'No changes', year: 'Year (BE)', open: 'Open a round', scope: 'Scope (province/district office code; empty = the nation)',
    selfDue: 'Self-assessment due', visitFrom: 'Visits from', visitTo: 'Visits to', publishOn: 'Publication day', opened: 'Round opened',
    rounds: 'Rounds', state: 'State', laos: 'LAOs', selfDone: 'Self-assessed', late: 'Late', withTeam: 'With a team', finalised: 'Finalised',
    passed: 'Passed', publish: 'Publish', published: 'Published', checklist: 'LAOs', district: 'District', lao: 'LAO',
    self: 'Self-assessment', score: 'Scoring', pct: '%', openA: 'Open', s_draft: 'draft', s_submitted: 'submitted', s_pending: 'awaiting team',
    s_finalised: 'finalised', s_returned: 'returned', s_open: 'open', s_closed: 'closed', s_published: 'published', lateMark: 'late',
    indicator: 'Indicator', scale: 'Scale', claim: 'Self-assessed points', note: 'Note', evidence: 'Evidence',
    addLink: 'Add link', addFile: 'Attach file', saveDraft: 'Save draft', submit: 'Submit', saved: 'Saved', submitted: 'Submitted',
    points: 'Team score', comment: 'Team comment', lastYear: 'Last year', saveScores: 'Save scores', finalise: 'Finalise (team lead)',
    ret: 'Return to the team', reason: 'Reason', returned: 'Returned', pilot: 'pilot (not counted)', due: 'Due', total: 'Total',
    teams: 'Assessor teams', formTeam: 'Form a team', laosOfTeam: 'LAOs assessed (codes, comma-separated)', visitOn: 'Visit day',
    members: 'Members', person: 'Username, or a community leader\'s name', role: 'Role', unit: 'Unit', r_lead: 'lead', r_member: 'member',
    r_community_leader: 'community leader', addMember: 'Add member', formed: 'Team formed', followUps: 'Follow-ups of weak areas', area: 'Area',
    plan: 'Improvement plan', savePlan: 'Save plan', close: 'Close', closed: 'Closed', results: 'Results', assessed: 'Assessed',
    passRate: 'Pass rate', mean: 'Mean %', dist: 'Distribution of scores', rankP: 'Rank in province', rankT: 'Rank in type',
    change: 'vs last year', publicPage: 'Public page', noRound: 'No round yet', mine: 'Our assessment', yes: 'pass', no: 'fail',
    dryRun: 'Check only (dry run)', importFw: 'Import a framework (YAML/JSON)', imported: 'Imported', file: 'File', url: 'Link (https://…)', remind: 'Remind the LAO', nothingToRemind: 'Nothing to remind of'},
};
const l = (k, v) => { const s = (L[S.lang] || L.th)[k] ?? L.th[k] ?? T.t(k, v); return v ? s.replace(/\{(\w+)\}/g, (_, x) => v[x] ?? '') : s; };
const st = (s) => (s == null ? '–' : l('s_' + s));
const tone = {submitted: 'ok', finalised: 'ok', closed: 'ok', published: 'ok', draft: 'info', pending: 'muted', returned: 'warn', open: 'info'};
const stb = (s) => badge(st(s), tone[s] || '');
const pctx = (x) => (x == null ? '–' : num(x) + '%');
const yn = (b) => (b == null ? '–' : badge(b ? l('yes') : l('no'), b ? 'ok' : 'bad'));
const input = (attrs) => h('input', attrs);
// the menu: LPA for everyone who takes part
const ADD = {central: ['lpa', 'lpar'], province: ['lpa', 'lpat', 'lpaf', 'lpar'], district: ['lpa', 'lpat', 'lpaf', 'lpar'],
  lao: ['lpa', 'lpaf', 'lpar'], reviewer: ['lpa', 'lpat']};
for (const [role, extra] of Object.entries(ADD)) { const nav = T.NAV[role]; nav.splice(nav.length - 1, 0, ...extra.filter((r) => !nav.includes(r))); }
T.HIDDEN.lpaa = 'lpa';

async function rounds() { return (await api('GET', '/lpa/rounds')).items; }
const currentYear = (items) => (items.find((r) => r.state === 'open') || items[0] || {}).year_be;

// ------------------------------------------------------------------ #/lpa
async function viewLpa() {
  const page = pageEl(l('title'));
  const items = await rounds();
  const role = S.user.role;
  const fws = (await api('GET', '/lpa/frameworks')).items;
  if (fws.some((f) => f.synthetic)) add(page, h('p', {class: 'notice warn', 'data-synthetic': '1', text: l('synthetic')}));
  if (role === 'central') {
    add(page, await frameworksBox(fws), openRoundBox(fws));
  }
  add(page, section(l('rounds'), items.length ? table([l('year'), l('state'), l('laos'), l('selfDone'), l('late'), l('withTeam'), l('finalised'), l('passed'), l('publishOn'), ''],
    items.map((r) => h('tr', {'data-year': r.year_be}, h('td', String(r.year_be)), h('td', null, stb(r.state)), h('td', num(r.counts.laos)),
      h('td', num(r.counts.self_submitted)), h('td', num(r.counts.self_late)), h('td', num(r.counts.with_team)), h('td', num(r.counts.finalised)),
      h('td', num(r.counts.passed)), h('td', fdate(r.publish_on)),
      h('td', null, role === 'central' && r.state === 'open' ? btn(l('publish'), (ev) => act(ev.currentTarget, async () => {
        await api('POST', `/lpa/rounds/${r.year_be}/publish`, {}); toast(l('published')); T.route();
      }), 'pri sm') : h('a', {href: `/public/lpa/${r.year_be}`, text: l('publicPage')}))))) : empty(l('noRound')), downloads('/lpa/rounds')));
  const year = currentYear(items);
  if (year) add(page, await checklistBox(year));
  return page;
}
async function frameworksBox(fws) {
  const box = section(l('frameworks'));
  if (fws.length) {
    const latest = await api('GET', `/lpa/frameworks/${fws[0].year_be}`);
    const prev = latest.previous_year_be;
    add(box, h('div', {class: 'cols', 'data-framework': latest.year_be},
      h('div', null, h('h3', `${latest.year_be} · ${latest.name_th}`), h('p.muted', `${num(latest.areas)} ด้าน · ${num(latest.indicators)} ${l('indicator')} · ${num(latest.max_points)} คะแนน`),
        h('ul', null, latest.document.areas.map((a) => h('li', null, `${a.code} ${a.name_th} (${num(a.indicators.length)})`)))),
      h('div', {'data-changes': prev || ''}, h('h3', `${l('changes')}${prev ? ' ' + prev : ''}`),
        latest.changes.length ? h('ul', null, latest.changes.map((c) => h('li', {'data-change': c.kind}, badge(c.kind, 'info'), ' ', c.code || '', ' ', c.detail_th || c.detail || ''))) : empty(l('noChanges')))),
    downloads(`/lpa/frameworks/${latest.year_be}`));
  }
  const text = h('textarea', {rows: 4, placeholder: 'format: thongthin.lpa-framework/v1'});
  const dry = input({type: 'checkbox', checked: true});
  const out = h('pre', {class: 'muted'});
  add(box, T.field('framework', l('importFw'), text), T.field('dry_run', l('dryRun'), dry),
    btn(l('importFw'), (ev) => act(ev.currentTarget, async () => {
      const r = await fetch('/api/v1/lpa/frameworks' + (dry.checked ? '?dry_run=1' : ''), {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/x-yaml', 'X-CSRF-Token': (document.cookie.match(/tt_csrf=([^;]+)/) || [])[1] || S.csrf || ''}, body: text.value});
      const d = await r.json();
      if (!r.ok) throw new T.ApiError(r.status, d);
      out.textContent = `${l('imported')}: ${d.year_be} v${d.version}${d.dry_run ? ' (dry run)' : ''} · ${d.changes.length} ${l('changes')}`;
    })), out);
  return box;
}
function openRoundBox(fws) {
  const year = input({type: 'number', value: fws.length ? fws[0].year_be : '', required: true});
  const scope = input({type: 'text', placeholder: 'PLO-09'});
  const due = input({type: 'datetime-local', required: true}), from = input({type: 'date', required: true}), to = input({type: 'date', required: true}), pub = input({type: 'date', required: true});
  const f = h('form', {class: 'form', 'data-form': 'open-round'}, field('year_be', l('year'), year), field('scope_code', l('scope'), scope), field('self_due_at', l('selfDue'), due),
    field('visit_from', l('visitFrom'), from), field('visit_to', l('visitTo'), to), field('publish_on', l('publishOn'), pub),
    h('p', {class: 'err form-err', role: 'alert'}), h('div.actions', null, h('button', {type: 'submit', class: 'btn pri', text: l('open')})));
  f.addEventListener('submit', (ev) => { ev.preventDefault(); act(f.querySelector('button'), async () => {
    try {
      const r = await api('POST', '/lpa/rounds', {year_be: Number(year.value), scope_code: scope.value.trim() || null, self_due_at: due.value + ':00+07:00',
        visit_from: from.value, visit_to: to.value, publish_on: pub.value});
      toast(`${l('opened')}: ${num(r.units)} ${l('laos')}`); T.route();
    } catch (e) { f.querySelector('.form-err').textContent = errText(e); }
  }); });
  return section(l('open'), f);
}
async function checklistBox(year) {
  const data = await api('GET', `/lpa/rounds/${year}/checklist?limit=1000`);
  await T.unitNames();
  const byDistrict = {};
  data.items.forEach((r) => (byDistrict[r.district_code] = byDistrict[r.district_code] || []).push(r));
  const box = section(`${l('checklist')} ${year}` + (S.user.role === 'lao' ? '' : ` (${num(data.total)})`));
  if (!data.items.length) return add(box, empty('–'));
  if (S.user.role === 'lao') {
    const r = data.items[0];
    return add(box, h('p', null, h('a', {class: 'btn pri', href: '#/lpaa/' + enc(r.assessment_id), 'data-assessment': r.assessment_id, text: `${l('mine')} ${year}`}), ' ', stb(r.self_state), ' ', r.self_on_time === false ? badge(l('lateMark'), 'bad') : null));
  }
  for (const [district, rows] of Object.entries(byDistrict)) {
    add(box, h('h3', uname(district) || district), table([l('lao'), l('self'), l('score'), l('pct'), l('passed'), ''], rows.map((r) => h('tr', {'data-unit': r.unit_code},
      h('td', null, unitCell(r.unit_code)), h('td', null, stb(r.self_state), r.self_on_time === false ? [' ', badge(l('lateMark'), 'bad')] : null),
      h('td', null, stb(r.score_state)), h('td', pctx(r.percent)), h('td', null, yn(r.passed)),
      h('td', null, h('a', {href: '#/lpaa/' + enc(r.assessment_id), text: l('openA')}))))));
  }
  return add(box, downloads(`/lpa/rounds/${year}/checklist`, {limit: 1000}));
}

// ------------------------------------------------------------------ #/lpaa/<id>
async function viewAssessment(id) {
  const a = await api('GET', '/lpa/assessments/' + enc(id));
  await T.unitNames();
  const page = pageEl(`${l('n_lpaa')} ${a.year_be}`, [unitCell(a.unit_code), ' ', stb(a.self_state), ' ', stb(a.score_state), a.self_on_time === false ? [' ', badge(l('lateMark'), 'bad')] : null]);
  if (a.framework && a.framework.synthetic) add(page, h('p', {class: 'notice warn', text: l('synthetic')}));
  if (a.returned_reason) add(page, h('p', {class: 'notice warn', text: `${l('returned')}: ${a.returned_reason}`}));
  const me = S.user.username, lao = S.user.role === 'lao' && S.user.org_code === a.unit_code;
  const member = a.team && a.team.state === 'finalised' ? a.team.members.find((m) => m.person === me) : null;
  const canClaim = lao && a.self_state !== 'submitted' && a.round_state === 'open';
  const canScore = member && a.score_state !== 'finalised' && a.round_state === 'open';
  add(page, h('p.muted', `${l('due')}: ${fdate(a.self_due_at, true)} · ${l('total')}: ${num(a.totals.points)} / ${num(a.totals.max_points)}` + (a.last_year ? ` · ${l('lastYear')}: ${pctx(a.last_year.percent)}` : '')));
  const rows = [];
  for (const area of a.areas) {
    const box = section(`${area.code} ${S.lang === 'en' && area.name_en ? area.name_en : area.name_th}`);
    for (const i of area.indicators) {
      const levels = i.levels.map((v) => [String(v.points), `${num(v.points)} – ${v.label_th || v.description_th || ''}`]);
      const claim = select([['', '–'], ...levels], i.claimed_points == null ? '' : String(i.claimed_points));
      const note = h('textarea', {rows: 2, value: i.claim_note || ''}); note.value = i.claim_note || '';
      const pts = select([['', '–'], ...levels], i.points == null ? '' : String(i.points));
      const cmt = h('textarea', {rows: 2}); cmt.value = i.comment || '';
      if (!canClaim) { claim.disabled = true; note.disabled = true; }
      if (!canScore) { pts.disabled = true; cmt.disabled = true; }
      rows.push({code: i.code, claim, note, pts, cmt});
      const ev = h('ul', {class: 'evidence'}, i.evidence.map((e) => h('li', null, h('a', {href: '/api/v1/lpa/evidence/' + enc(e.id), target: '_blank', rel: 'noopener', text: e.filename || e.url}))));
      const url = input({type: 'url', placeholder: 'https://'}), file = input({type: 'file', accept: 'image/*,application/pdf'});
      add(box, h('div', {class: 'indicator', 'data-indicator': i.code},
        h('h3', null, `${i.code} ${i.name_th} `, h('small.muted', `(${num(i.max_points)})`), i.pilot ? [' ', badge(l('pilot'), 'info')] : null),
        i.evidence_th ? h('p.muted', `${l('evidence')}: ${i.evidence_th}`) : null,
        h('details', null, h('summary', l('scale')), h('ul', null, i.levels.map((v) => h('li', `${num(v.points)}: ${v.label_th || v.description_th || ''}`)))),
        h('div', {class: 'cols'}, h('div', null, field('claimed_points', l('claim'), claim), field('note', l('note'), note)),
          h('div', null, field('points', l('points'), pts), field('comment', l('comment'), cmt), h('p.muted', `${l('lastYear')}: ${i.last_year_points == null ? '–' : num(i.last_year_points)}`))),
        h('div', null, h('strong', l('evidence') + ': '), ev,
          canClaim ? h('div', {class: 'row'}, field('url', l('url'), url), btn(l('addLink'), (e) => act(e.currentTarget, async () => {
            await api('POST', `/lpa/assessments/${enc(id)}/evidence`, {indicator_code: i.code, url: url.value.trim()}); toast(l('saved')); T.route();
          }), 'sm'), field('file', l('file'), file), btn(l('addFile'), (e) => act(e.currentTarget, async () => {
            const f = file.files[0]; if (!f) return;
            const b64 = await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(String(r.result).split(',')[1]); r.readAsDataURL(f); });
            await api('POST', `/lpa/assessments/${enc(id)}/evidence`, {indicator_code: i.code, filename: f.name, content_type: f.type || 'application/octet-stream', content_base64: b64});
            toast(l('saved')); T.route();
          }), 'sm')) : null)));
    }
    add(page, box);
  }
  const claims = () => rows.map((r) => ({indicator_code: r.code, claimed_points: r.claim.value === '' ? null : Number(r.claim.value), note: r.note.value.trim() || null}));
  const scores = () => rows.filter((r) => r.pts.value !== '').map((r) => ({indicator_code: r.code, points: Number(r.pts.value), comment: r.cmt.value.trim() || null}));
  const status = h('p', {class: 'status', role: 'status'});
  const actions = h('div', {class: 'actions sticky'});
  if (canClaim) add(actions, btn(l('saveDraft'), (e) => act(e.currentTarget, async () => { await api('POST', `/lpa/assessments/${enc(id)}/self-assessment`, {entries: claims()}); toast(l('saved')); }, status)),
    btn(l('submit'), (e) => act(e.currentTarget, async () => { await api('POST', `/lpa/assessments/${enc(id)}/self-assessment`, {entries: claims(), submit: true}); toast(l('submitted')); T.route(); }, status), 'pri'));
  if (canScore) add(actions, btn(l('saveScores'), (e) => act(e.currentTarget, async () => { await api('POST', `/lpa/assessments/${enc(id)}/scores`, {scores: scores()}); toast(l('saved')); }, status)),
    member.role === 'lead' ? btn(l('finalise'), (e) => act(e.currentTarget, async () => { await api('POST', `/lpa/assessments/${enc(id)}/scores`, {scores: scores(), finalise: true}); toast(l('finalised')); T.route(); }, status), 'pri') : null);
  if (S.user.role === 'central' && a.score_state === 'finalised' && a.round_state === 'open') {
    const reason = h('textarea', {rows: 2});
    add(actions, field('reason', l('reason'), reason), btn(l('ret'), (e) => act(e.currentTarget, async () => { await api('POST', `/lpa/assessments/${enc(id)}/return`, {reason: reason.value.trim()}); toast(l('returned')); T.route(); }, status), 'warn'));
  }
  return add(page, actions, status);
}

// ------------------------------------------------------------------ #/lpat
async function viewTeams() {
  const page = pageEl(l('teams'));
  const year = currentYear(await rounds());
  if (!year) return add(page, empty(l('noRound')));
  if (S.user.role === 'province') add(page, teamForm(year));
  const data = await api('GET', `/lpa/rounds/${year}/teams`);
  add(page, section(`${l('teams')} ${year}`, data.items.length ? h('div.list', null, data.items.map((team) => h('div', {class: 'card', 'data-team': team.id},
    h('p', null, stb(team.state), ` ${l('visitOn')}: ${fdate(team.visit_on)}`),
    h('ul', null, team.members.map((m) => h('li', `${m.name_th || m.person} · ${l('r_' + m.role)}${m.unit_code ? ' · ' + m.unit_code : ''}`))),
    h('p', null, team.assessments.map((x) => [h('a', {href: '#/lpaa/' + enc(x.assessment_id), text: uname(x.unit_code)}), ' ', stb(x.score_state), ' ']))))) : empty('–'),
  downloads(`/lpa/rounds/${year}/teams`)));
  return page;
}
function teamForm(year) {
  const codes = input({type: 'text', required: true, placeholder: 'LAO-180101'});
  const visit = input({type: 'date', required: true});
  const list = h('div', {class: 'members'});
  const addRow = (role = 'member') => {
    const person = input({type: 'text', 'data-member': 'person'}), unit = input({type: 'text', 'data-member': 'unit_code'});
    const roleSel = select(['lead', 'member', 'community_leader'].map((r) => [r, l('r_' + r)]), role); roleSel.dataset.member = 'role';
    list.append(h('div', {class: 'row member'}, field('person', l('person'), person), field('role', l('role'), roleSel), field('unit_code', l('unit'), unit)));
  };
  addRow('lead'); addRow('member');
  const err = h('p', {class: 'err form-err', role: 'alert'});
  const f = h('form', {class: 'form', 'data-form': 'team'}, field('unit_codes', l('laosOfTeam'), codes), field('visit_on', l('visitOn'), visit), h('h3', l('members')), list,
    btn(l('addMember'), () => addRow(), 'ghost sm'), err, h('div.actions', null, h('button', {type: 'submit', class: 'btn pri', text: l('formTeam')})));
  f.addEventListener('submit', (ev) => { ev.preventDefault(); err.textContent = ''; act(f.querySelector('button[type=submit]'), async () => {
    const members = [...list.querySelectorAll('.member')].map((row) => {
      const v = (k) => row.querySelector(`[data-member=${k}]`).value.trim();
      return {person: v('person'), role: v('role'), unit_code: v('unit_code') || null, name_th: v('role') === 'community_leader' ? v('person') : null};
    }).filter((m) => m.person);
    try {
      await api('POST', `/lpa/rounds/${year}/teams`, {unit_codes: codes.value.split(',').map((c) => c.trim()).filter(Boolean), visit_on: visit.value, members, finalise: true});
      toast(l('formed')); T.route();
    } catch (e) { err.textContent = errText(e); err.dataset.code = (e.data && e.data.code) || ''; }
  }); });
  return section(l('formTeam'), f);
}

// ------------------------------------------------------------------ #/lpaf
async function viewFollowUps() {
  await T.unitNames();
  const page = pageEl(l('followUps'));
  const data = await api('GET', '/lpa/follow-ups?limit=1000');
  const lao = S.user.role === 'lao';
  add(page, data.items.length ? h('div.list', null, data.items.map((f) => {
    const plan = h('textarea', {rows: 3}); plan.value = f.plan_th || '';
    plan.disabled = !lao || f.state === 'closed';
    return h('div', {class: 'card', 'data-follow-up': f.follow_up_id}, h('p', null, unitCell(f.unit_code), ` · ${l('area')} ${f.area_code} · ${pctx(f.percent)} (< ${num(f.threshold)}) `, stb(f.state)),
      h('p.muted', `${l('due')}: ${fdate(f.due_at, true)}`), field('plan_th', l('plan'), plan),
      f.state === 'open' && lao ? btn(l('savePlan'), (e) => act(e.currentTarget, async () => { await api('POST', '/lpa/follow-ups/' + enc(f.follow_up_id), {plan_th: plan.value.trim()}); toast(l('saved')); T.route(); }), 'pri') : null,
      f.state === 'open' && !lao && S.user.role !== 'central' ? btn(l('close'), (e) => act(e.currentTarget, async () => { await api('POST', '/lpa/follow-ups/' + enc(f.follow_up_id), {close: true}); toast(l('closed')); T.route(); })) : null,
      f.state === 'open' && !lao ? btn(l('remind'), (e) => act(e.currentTarget, async () => {  // its obligation, chased like any report
        if (!f.obligation_id) return toast(l('nothingToRemind'), 'bad');
        toast(T.chaseText(await api('POST', '/notifications/chase', {obligation_id: f.obligation_id})));
      }), 'ghost') : null);
  })) : empty('–'), downloads('/lpa/follow-ups', {limit: 1000}));
  return page;
}

// ------------------------------------------------------------------ #/lpar
async function viewResults() {
  await T.unitNames();
  const items = await rounds();
  const year = (items.find((r) => r.state === 'published') || items[0] || {}).year_be;
  const page = pageEl(`${l('results')} ${year || ''}`);
  if (!year) return add(page, empty(l('noRound')));
  const [summary, results] = await Promise.all([api('GET', `/lpa/rounds/${year}/summary`).catch(() => null), api('GET', `/lpa/rounds/${year}/results?limit=1000`)]);
  const sum = {...((summary || {}).totals || {}), synthetic: (summary || {}).synthetic};
  if (sum.synthetic) add(page, h('p', {class: 'notice warn', text: l('synthetic')}));
  add(page, h('div', {class: 'counts'}, [['assessed', sum.assessed], ['passed', sum.passed]].map(([k, v]) => h('div', {class: 'count', 'data-count': k}, h('span.n', num(v)), h('span.k', l(k)))),
    h('div', {class: 'count', 'data-count': 'pass_rate'}, h('span.n', sum.pass_rate == null ? '–' : num(sum.pass_rate * 100) + '%'), h('span.k', l('passRate'))),
    h('div', {class: 'count', 'data-count': 'mean'}, h('span.n', pctx(sum.mean_percent)), h('span.k', l('mean')))),
  h('p', null, h('a', {href: `/public/lpa/${year}`, text: l('publicPage')})));
  if (C && sum.distribution) add(page, section(l('dist'), C.bars(sum.distribution.map((b) => ({key: String(b.from), label: `${b.from}–${b.to}%`, value: b.laos || b.count || 0})), {fmt: (v) => num(v), label: l('dist')})));
  add(page, section(l('results'), table([l('lao'), l('pct'), l('passed'), l('rankP'), l('rankT'), l('change')], results.items.map((r) => h('tr', {'data-unit': r.unit_code},
    h('td', null, unitCell(r.unit_code)), h('td', pctx(r.percent)), h('td', null, yn(r.passed)), h('td', num(r.rank_province)), h('td', num(r.rank_lao_type)),
    h('td', r.change == null ? '–' : (r.change > 0 ? '+' : '') + num(r.change))))), downloads(`/lpa/rounds/${year}/results`, {limit: 1000})));
  return page;
}

Object.assign(T.ROUTES, {lpa: viewLpa, lpaa: viewAssessment, lpat: viewTeams, lpaf: viewFollowUps, lpar: viewResults});
})();
