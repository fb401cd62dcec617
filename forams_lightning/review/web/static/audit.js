// The audit view, keyboard first; elements built with textContent only (names and paths are data).
'use strict';
const TOKEN = document.body.dataset.token;
const state = { rows: [], at: 0, mine: [] };
let queue = Promise.resolve();
function enqueue(action) { queue = queue.then(action).catch(fail); }
function api(path, body) {
  const options = { headers: { 'X-Review-Token': TOKEN } };
  if (body !== undefined) {
    Object.assign(options, { method: 'POST', body: JSON.stringify(body) });
    options.headers['Content-Type'] = 'application/json';
  }
  return fetch(path, options).then(async response => {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  });
}
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([k, v]) => { if (k === 'text') node.textContent = v; else node.setAttribute(k, v); });
  children.forEach(child => node.append(child));
  return node;
}
function image(g) { return `image/reference/${g}?token=${encodeURIComponent(TOKEN)}`; }
function say(text, error) { document.getElementById('changes').replaceChildren(el('div', { class: error ? 'error' : '', text })); }
function fail(error) { say(error.message, true); }

async function load() {
  state.rows = (await api('api/audit')).rows;
  document.getElementById('total').textContent = state.rows.length;
  document.getElementById('done').textContent = state.rows.filter(r => r.decision).length;
  if (!state.rows.length) { document.getElementById('main').replaceChildren(el('p', { text: 'No suspect labels and no duplicates.' })); return; }
  state.at = Math.max(0, Math.min(state.at, state.rows.length - 1));
  const row = state.rows[state.at];
  const near = (await api(`api/audit/${state.at}`)).neighbours;
  const facts = el('div', { class: 'facts' },
    el('div', { text: `${state.at + 1} of ${state.rows.length} · score ${row.score.toFixed(2)} · ${row.reason}` }),
    el('div', { text: `labelled ${row.species}; the others say ${row.suggested_species}` }),
    el('div', { class: 'verdict', text: row.decision ? `decided: ${row.decision}` : '' }),
    el('small', { text: row.file }));
  const list = el('div', { class: 'candidates' });
  near.forEach(n => list.append(el('div', { class: 'candidate' },
    el('figure', {}, el('img', { src: image(n.reference), alt: '' }), el('figcaption', { text: `${n.species} · d = ${n.distance.toFixed(3)}` })))));
  document.getElementById('main').replaceChildren(
    el('section', { id: 'specimen', 'data-row': String(state.at) }, row.reference === null ? el('p', { text: 'not in the library any more' }) : el('img', { src: image(row.reference), alt: row.file }), facts), list);
}
async function decide(action, species) {
  const row = state.at;
  await api('api/audit/decide', { row, action, species });
  state.mine.push(row);
  say(`${action}${species ? ' to ' + species : ''}: ${state.rows[row].file.split('/').pop()}`);
  state.at += 1;
  await load();
}
async function undo() {
  if (!state.mine.length) return;
  const row = state.mine.pop();
  await api('api/audit/undo', { row });
  state.at = row;
  say('undone');
  await load();
}
document.getElementById('name').addEventListener('keydown', event => {
  const box = document.getElementById('name-box'), name = event.target.value.trim();
  if (event.key === 'Escape') { box.hidden = true; event.preventDefault(); }
  if (event.key === 'Enter' && name) { box.hidden = true; event.preventDefault(); event.stopPropagation(); enqueue(() => decide('relabel', name)); }
});
document.addEventListener('keydown', event => {
  if (event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (key === '?') { const help = document.getElementById('help'); help.hidden = !help.hidden; }
  else if (key === 'Enter') enqueue(() => decide('relabel', state.rows[state.at].suggested_species));
  else if (key === 'x') enqueue(() => decide('remove'));
  else if (key === 's') enqueue(() => decide('keep'));
  else if (key === 'u') enqueue(undo);
  else if (key === 'n') { const box = document.getElementById('name-box'); box.hidden = false; document.getElementById('name').value = ''; document.getElementById('name').focus(); }
  else if (key === 'j' || key === 'ArrowRight' || key === 'ArrowDown') enqueue(() => { state.at += 1; return load(); });
  else if (key === 'k' || key === 'ArrowLeft' || key === 'ArrowUp') enqueue(() => { state.at -= 1; return load(); });
  else return;
  event.preventDefault();
});
enqueue(load);
