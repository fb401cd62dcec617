// The live review's keys on a static page: a current row (j/k, arrows), 1-9 its n-th candidate species (the species
// of its neighbours, the voted one first), Enter confirms the chosen one, n types a name, s skips, u undoes, ? keys.
(() => {
const rows = Array.from(document.querySelectorAll('tr.specimen'));
let at = 0, chosen = 0;
const undoStack = [];
function candidates(row) {
  const names = Array.from(row.querySelectorAll('td.refs figcaption')).map(c => c.childNodes[0].textContent);
  return Array.from(new Set([row.dataset.species, ...names]));
}
function focusRow(i) {
  if (!rows.length) return;
  rows[at].classList.remove('current');
  at = Math.max(0, Math.min(i, rows.length - 1)); chosen = 0;
  rows[at].classList.add('current');
  rows[at].scrollIntoView({block: 'center'});
}
function setVerdict(row, species) {
  undoStack.push([row, verdicts[row.dataset.file]]);
  const confirm = species === row.dataset.species;
  const choice = confirm ? 'confirm' : (species ? 'correct' : 'skip');
  row.querySelector(`input[value=${choice}]`).checked = true;
  if (!confirm && species) row.querySelector('input.correction').value = species;
  update(row);
}
document.addEventListener('keydown', event => {
  if (event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey || !rows.length) return;
  const key = event.key, row = rows[at];
  if (/^[1-9]$/.test(key)) { chosen = Number(key) - 1; row.dataset.chosen = candidates(row)[chosen] || ''; }
  else if (key === 'Enter') { const c = candidates(row)[chosen]; if (c) { setVerdict(row, c); focusRow(at + 1); } }
  else if (key === 'n') {
    event.preventDefault();
    undoStack.push([row, verdicts[row.dataset.file]]);
    row.querySelector('input[value=correct]').checked = true;
    row.querySelector('input.correction').focus();
  }
  else if (key === 's') { setVerdict(row, null); focusRow(at + 1); }
  else if (key === 'u' && undoStack.length) {
    const [back, previous] = undoStack.pop();
    if (previous) { verdicts[back.dataset.file] = previous; } else { delete verdicts[back.dataset.file]; }
    storeVerdicts(); location.reload();
  }
  else if (key === 'j' || key === 'ArrowDown') focusRow(at + 1);
  else if (key === 'k' || key === 'ArrowUp') focusRow(at - 1);
  else if (key === '?') { const help = document.getElementById('keys'); help.hidden = !help.hidden; }
  else return;
  event.preventDefault();
});
rows.forEach((row, i) => row.querySelector('input.correction').addEventListener('keydown', event => {
  if (event.key !== 'Enter' && event.key !== 'Escape') return;
  event.target.blur();
  if (event.key === 'Enter') focusRow(i + 1);
}));
focusRow(0);
})();
