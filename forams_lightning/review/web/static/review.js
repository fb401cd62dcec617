// The live review, keyboard first. Every request carries the launch token; the page builds its elements with
// textContent only (names and paths are data, never markup).
'use strict';
const TOKEN = document.body.dataset.token;
const VIEW = document.body.dataset.view;
const state = { order: [], position: 0, current: null, chosen: 0, mine: [], groups: [], pick: 0 };
// keys act one after another, each on the page the previous one left (a fast typist loses no key)
let queue = Promise.resolve();
function enqueue(action) { queue = queue.then(action).catch(fail); }

function api(path, body) {
  const options = { headers: { 'X-Review-Token': TOKEN } };
  if (body !== undefined) {
    options.method = 'POST';
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  return fetch(path, options).then(async response => {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) { throw new Error(answer.error || response.statusText); }
    return answer;
  });
}
function image(kind, id) { return `image/${kind}/${id}?token=${encodeURIComponent(TOKEN)}`; }
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([k, v]) => { if (k === 'text') node.textContent = v; else node.setAttribute(k, v); });
  children.forEach(child => node.append(child));
  return node;
}
function showProgress(s) {
  for (const key of ['done', 'left', 'flagged', 'references']) document.getElementById(key).textContent = s[key];
  document.getElementById('n-species').textContent = s.species;
  const saved = document.getElementById('saved');
  saved.textContent = s.sync_error ? ' · library NOT saved: ' + s.sync_error : (s.library_saved ? ' · saved' : ' · saving');
  saved.className = s.sync_error ? 'error' : '';
  if (s.order) state.order = s.order;
}
function showChanges(answer, what) {
  const box = document.getElementById('changes');
  box.replaceChildren(el('b', { text: `${what}: ${answer.changes.length} other specimen(s) re-identified differently` }));
  answer.changes.slice(0, 40).forEach(c => box.append(el('div', { class: 'change', text: `${c.file}: ${c.before} → ${c.after}` })));
}
function fail(error) {
  const box = document.getElementById('changes');
  box.replaceChildren(el('div', { class: 'error', text: error.message }));
}

// ---- specimens view
async function showSpecimen() {
  const main = document.getElementById('main');
  if (!state.order.length) { main.replaceChildren(el('p', { text: 'Every specimen has a verdict.' })); state.current = null; return; }
  state.position = Math.max(0, Math.min(state.position, state.order.length - 1));
  const id = state.order[state.position];
  const s = await api(`api/specimen/${id}`);
  state.current = s; state.chosen = 0;
  const facts = el('div', { class: 'facts' },
    el('div', { text: `${state.position + 1} of ${state.order.length} left · ${s.file}` }),
    el('div', { text: `vote: ${s.species} (${Math.round(100 * s.vote_share)}%) · novelty ${s.novelty_score.toFixed(3)}` }));
  if (s.novel) facts.append(el('div', { class: 'novel', text: 'NOVEL? far from every reference of its species' }));
  const list = el('div', { class: 'candidates', id: 'candidates' });
  s.candidates.slice(0, 9).forEach((c, n) => {
    const row = el('div', { class: 'candidate', 'data-species': c.species }, el('span', { class: 'key', text: String(n + 1) }));
    row.append(el('b', { text: c.species }));
    c.references.forEach(r => row.append(el('figure', {}, el('img', { src: image('reference', r.reference), alt: '' }),
      el('figcaption', { text: `d = ${r.distance.toFixed(3)}` }))));
    list.append(row);
  });
  main.replaceChildren(el('section', { id: 'specimen', 'data-id': String(id) }, el('img', { src: image('specimen', id), alt: s.file }), facts), list);
  choose(0);
}
function choose(n) {
  const rows = document.querySelectorAll('.candidate, .group');
  if (n >= rows.length) return;
  rows.forEach((row, i) => row.classList.toggle('chosen', i === n));
  state.chosen = n;
}
async function decide(species) {
  if (!state.current) return;
  const id = state.current.id;
  const answer = await api('api/verdict', { id, species });
  state.mine.push([id]);
  showProgress(answer);
  showChanges(answer, `${state.current.file.split('/').pop()} is ${species}`);
  await showSpecimen();
}
async function undo() {
  if (!state.mine.length) return;
  const ids = state.mine.pop();
  const answer = await api('api/undo', { ids });
  showProgress(answer);
  showChanges(answer, 'undone');
  if (VIEW === 'groups') { await showGroups(); } else { state.position = Math.max(0, state.order.indexOf(ids[0])); await showSpecimen(); }
}
async function skip() {
  if (!state.current) return;
  showProgress(await api('api/skip', { id: state.current.id }));
  await showSpecimen();
}

// ---- candidate groups view: the same keys, a verdict names every member of the chosen group
async function showGroups() {
  state.groups = await api('api/groups');
  const main = document.getElementById('main');
  if (!state.groups.length) { main.replaceChildren(el('p', { text: 'No candidate groups among the specimens left.' })); return; }
  const list = el('div', { id: 'groups' });
  state.groups.forEach(g => {
    const box = el('div', { class: 'group', 'data-group': g.group },
      el('b', { text: `${g.group}: ${g.members.length} specimen(s); candidates: ${g.candidates.map((c, n) => `${n + 1} ${c}`).join(', ')}` }), el('br'));
    g.members.slice(0, 12).forEach(m => box.append(el('img', { src: image('specimen', m), alt: '' })));
    list.append(box);
  });
  main.replaceChildren(list);
  choose(Math.min(state.chosen, state.groups.length - 1));
}
async function nameGroup(species) {
  const g = state.groups[state.chosen];
  if (!g) return;
  const answer = await api('api/group', { group: g.group, species });
  state.mine.push(g.members);
  showProgress(answer);
  showChanges(answer, `${g.group} (${g.members.length}) is ${species}`);
  state.chosen = 0;
  await showGroups();
}
function candidateNumber(n) {
  if (VIEW === 'groups') { const g = state.groups[state.chosen]; return g && g.candidates[n]; }
  const c = state.current && state.current.candidates[n];
  return c && c.species;
}

// ---- keys
function askName() {
  const box = document.getElementById('name-box'), input = document.getElementById('name');
  box.hidden = false; input.value = ''; input.focus();
}
document.getElementById('name').addEventListener('keydown', event => {
  const box = document.getElementById('name-box'), name = event.target.value.trim();
  if (event.key === 'Escape') { box.hidden = true; event.preventDefault(); }
  if (event.key === 'Enter' && name) {
    box.hidden = true; event.preventDefault(); event.stopPropagation();
    enqueue(() => (VIEW === 'groups' ? nameGroup : decide)(name));
  }
});
document.addEventListener('keydown', event => {
  if (event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key, help = document.getElementById('help');
  if (key === '?') { help.hidden = !help.hidden; return; }
  if (key === 'Escape') { help.hidden = true; return; }
  if (/^[1-9]$/.test(key)) enqueue(() => pick(Number(key) - 1));
  else if (key === 'Enter') {
    enqueue(() => {
      const species = candidateNumber(VIEW === 'groups' ? state.pick : state.chosen);
      return species && (VIEW === 'groups' ? nameGroup : decide)(species);
    });
  } else if (key === 'n') { event.preventDefault(); enqueue(askName); }
  else if (key === 'u') enqueue(undo);
  else if (key === 's' && VIEW !== 'groups') enqueue(skip);
  else if (key === 'j' || key === 'ArrowRight' || key === 'ArrowDown') enqueue(() => move(1));
  else if (key === 'k' || key === 'ArrowLeft' || key === 'ArrowUp') enqueue(() => move(-1));
  else return;
  event.preventDefault();
});
function pick(n) {
  if (VIEW !== 'groups') { choose(n); return; }
  state.pick = n;
  const g = state.groups[state.chosen];
  if (g && g.candidates[n]) showChanges({ changes: [] }, `Enter names ${g.group} ${g.candidates[n]}`);
}
function move(step) {
  if (VIEW === 'groups') { state.pick = 0; choose(Math.max(0, Math.min(state.chosen + step, state.groups.length - 1))); return; }
  state.position += step;
  return showSpecimen();
}
document.getElementById('census').addEventListener('click', () => api('api/census', {}).then(
  answer => showChanges({ changes: [] }, answer.message)).catch(fail));

api('api/state').then(s => { showProgress(s); return VIEW === 'groups' ? showGroups() : showSpecimen(); }).catch(fail);
setInterval(() => api('api/state').then(s => { const order = state.order; showProgress(s); state.order = order; }).catch(() => {}), 5000);
