/* The public LPA results page (/public/lpa/<year>): no login, Thai first (English switch), light for a
   phone on a slow connection: one small script, two JSON calls, no framework. Reads
   /api/v1/public/lpa/<year>/summary and /results (404 until the results are published). */
'use strict';
(() => {
const year = (location.pathname.match(/\/public\/lpa\/(\d{4})/) || [])[1];
const api = `/api/v1/public/lpa/${year}`;
const TEXT = {
  th: {title: `ผลการประเมินประสิทธิภาพขององค์กรปกครองส่วนท้องถิ่น (LPA) ประจำปี พ.ศ. ${year}`, brand: 'ผลการประเมิน LPA', other: 'English',
    loading: 'กำลังโหลด…', none: 'ยังไม่ประกาศผลการประเมินของปีนี้', failed: 'โหลดข้อมูลไม่สำเร็จ กรุณาลองใหม่',
    synthetic: 'ข้อมูลสาธิต (สังเคราะห์) ไม่ใช่ผลการประเมินจริง', assessed: 'อปท. ที่ประเมิน', passed: 'ผ่านเกณฑ์', rate: 'อัตราผ่านเกณฑ์',
    mean: 'คะแนนเฉลี่ย (ร้อยละ)', dist: 'การกระจายของคะแนน (จำนวน อปท. ตามช่วงร้อยละ)', results: 'ผลรายองค์กรปกครองส่วนท้องถิ่น',
    search: 'ค้นหาชื่อหรือรหัส อปท.', lao: 'อปท.', type: 'ประเภท', pct: 'ร้อยละ', pass: 'ผล', rp: 'อันดับในจังหวัด', rt: 'อันดับในประเภท',
    change: 'เทียบปีก่อน', yes: 'ผ่าน', no: 'ไม่ผ่าน', download: 'ดาวน์โหลด', shown: 'แสดง {n} จาก {t} แห่ง', published: 'ประกาศผลเมื่อ'},
  en: {title: `Local Performance Assessment (LPA) results, ${year} BE`, brand: 'LPA results', other: 'ภาษาไทย',
    loading: 'Loading…', none: 'The results of this year are not published yet', failed: 'Could not load the data; please try again',
    synthetic: 'Demo data (synthetic), not real assessment results', assessed: 'LAOs assessed', passed: 'Passed', rate: 'Pass rate',
    mean: 'Mean score (%)', dist: 'Distribution of scores (LAOs per percent band)', results: 'Results per LAO',
    search: 'Search an LAO by name or code', lao: 'LAO', type: 'Type', pct: '%', pass: 'Result', rp: 'Rank in province', rt: 'Rank in type',
    change: 'vs last year', yes: 'pass', no: 'fail', download: 'Download', shown: '{n} of {t} shown', published: 'Published on'},
};
let lang = localStorage.getItem('tt_lang') === 'en' ? 'en' : 'th';
let data = null;
const t = (k, v) => TEXT[lang][k].replace(/\{(\w+)\}/g, (_, x) => v[x]);
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) (k === 'text' ? (e.textContent = v) : e.setAttribute(k, v));
  kids.flat().forEach((k) => k != null && e.append(k.nodeType ? k : String(k)));
  return e;
};
const num = (x, d = 2) => (x == null ? '–' : Number(x).toLocaleString(lang === 'th' ? 'th-TH' : 'en-US', {maximumFractionDigits: d}));
const signed = (x) => (x == null ? '–' : (x > 0 ? '+' : '') + num(x));
const name = (r) => r.name_th || r.unit_code;
const TYPES = {th: {pao: 'อบจ.', city_municipality: 'เทศบาลนคร', town_municipality: 'เทศบาลเมือง', subdistrict_municipality: 'เทศบาลตำบล',
  sao: 'อบต.', special: 'รูปแบบพิเศษ'}, en: {pao: 'PAO', city_municipality: 'City', town_municipality: 'Town', subdistrict_municipality: 'Subdistrict mun.',
  sao: 'SAO', special: 'Special'}};
const MONTHS = {th: ['ม.ค.', 'ก.พ.', 'มี.ค.', 'เม.ย.', 'พ.ค.', 'มิ.ย.', 'ก.ค.', 'ส.ค.', 'ก.ย.', 'ต.ค.', 'พ.ย.', 'ธ.ค.'],
  en: ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']};
const day = (iso) => { const [y, m, d] = String(iso).split('-').map(Number); return `${d} ${MONTHS[lang][m - 1]} ${lang === 'th' ? y + 543 : y}`; };

async function load() {
  const [s, r] = await Promise.all([fetch(api + '/summary'), fetch(api + '/results?limit=1000')]);
  if (s.status === 404 || r.status === 404) return {missing: true};
  if (!s.ok || !r.ok) throw new Error('HTTP ' + (s.ok ? r.status : s.status));
  return {summary: await s.json(), results: await r.json()};
}
function render() {
  document.documentElement.lang = lang;
  document.title = t('title', {});
  $('title').textContent = t('title', {}); $('brand').textContent = t('brand', {});
  $('lang').textContent = t('other', {}); $('lang').setAttribute('lang', lang === 'th' ? 'en' : 'th');
  if (!data) return;
  if (data.missing) { $('status').textContent = t('none', {}); return; }
  $('status').textContent = '';
  const s = data.summary || {}, res = data.results || {}, sum = {...(s.totals || {})};
  const synthetic = s.synthetic || res.synthetic;
  $('synthetic').hidden = !synthetic; $('synthetic').textContent = t('synthetic', {});
  const card = (k, v, key) => el('div', {class: 'card', 'data-card': key}, el('span', {class: 'n', text: v}), el('span', {class: 'k', text: k}));
  const rate = sum.pass_rate != null ? num(sum.pass_rate * 100, 1) + '%' : '–';
  const published = (s.round || res.round || {}).publish_on;
  $('summary').replaceChildren(el('div', {class: 'cards'}, card(t('assessed', {}), num(sum.assessed, 0), 'assessed'),
    card(t('passed', {}), num(sum.passed, 0), 'passed'), card(t('rate', {}), rate, 'pass_rate'), card(t('mean', {}), num(sum.mean_percent), 'mean')),
    published ? el('p', {text: `${t('published', {})} ${day(published)}`}) : null);
  $('summary').hidden = false;
  const bands = sum.distribution || [];
  if (bands.length) {
    const top = Math.max(1, ...bands.map((b) => b.laos || b.count || 0));
    $('chart').replaceChildren(el('h2', {text: t('dist', {})}),
      el('div', {class: 'bars', role: 'img', 'aria-label': t('dist', {})}, bands.map((b) => {
        const n = b.laos || b.count || 0, bar = el('div', {title: `${b.from}–${b.to}%: ${n}`}, el('span', {text: n ? num(n, 0) : ''}));
        bar.style.height = `${(100 * n) / top}%`;
        return bar;
      })), el('div', {class: 'axis'}, bands.map((b) => el('span', {text: String(b.from)}))));
    $('chart').hidden = false;
  }
  const input = el('input', {type: 'search', placeholder: t('search', {}), 'aria-label': t('search', {}), id: 'q'});
  const body = el('tbody');
  const count = el('p', {class: 'muted', role: 'status'});
  const items = res.items || [];
  const draw = () => {
    const q = input.value.trim().toLowerCase();
    const shown = items.filter((r) => !q || name(r).toLowerCase().includes(q) || String(r.unit_code).toLowerCase().includes(q)).slice(0, 300);
    body.replaceChildren(...shown.map((r) => el('tr', {'data-unit': r.unit_code}, el('td', {}, name(r), el('br'), el('small', {text: `${r.unit_code} · ${TYPES[lang][r.lao_type] || r.lao_type || ''}`})), el('td', {class: 'n', text: num(r.percent)}),
      el('td', {class: r.passed ? 'pass' : 'fail', text: r.passed ? t('yes', {}) : t('no', {})}),
      el('td', {class: 'n', text: num(r.rank_province, 0)}), el('td', {class: 'n', text: num(r.rank_lao_type, 0)}), el('td', {class: 'n', text: signed(r.change)}))));
    count.textContent = t('shown', {n: num(shown.length, 0), t: num(res.total != null ? res.total : items.length, 0)});
  };
  input.addEventListener('input', draw);
  const head = el('tr', {}, ['lao', 'pct', 'pass', 'rp', 'rt', 'change'].map((k) => el('th', {scope: 'col', text: t(k, {})})));
  $('results').replaceChildren(el('h2', {text: t('results', {})}), input, count,
    el('div', {class: 'scroll'}, el('table', {}, el('thead', {}, head), body)),
    el('p', {class: 'dl'}, t('download', {}) + ': ', el('a', {href: `${api}/results?format=csv&lang=${lang}`, download: '', text: 'CSV'}),
      el('a', {href: `${api}/results?format=xlsx&lang=${lang}`, download: '', text: 'XLSX'}),
      el('a', {href: `${api}/results?limit=1000`, text: 'JSON'})));
  $('results').hidden = false;
  draw();
}
$('lang').addEventListener('click', () => { lang = lang === 'th' ? 'en' : 'th'; localStorage.setItem('tt_lang', lang); render(); });
render();
$('status').textContent = t('loading', {});
load().then((d) => { data = d; render(); }, () => { $('status').textContent = t('failed', {}); $('status').className = 'bad'; });
})();
