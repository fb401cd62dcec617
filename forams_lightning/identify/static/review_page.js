// review.html: verdicts kept in this browser (localStorage) across pages and reloads, saved as verdicts.csv.
const KEY = 'forams-review-' + document.body.dataset.review;
function loadVerdicts() { try { return JSON.parse(localStorage.getItem(KEY) || '{}'); } catch (e) { return {}; } }
function storeVerdicts() { try { localStorage.setItem(KEY, JSON.stringify(verdicts)); } catch (e) {} }
let verdicts = loadVerdicts();
function rowVerdict(row) {
  const choice = row.querySelector('input[type=radio]:checked').value;
  if (choice === 'confirm') return row.dataset.species;
  if (choice === 'correct') return row.querySelector('input.correction').value.trim() || null;
  return null;
}
function update(row) {
  const species = rowVerdict(row);
  if (species) { verdicts[row.dataset.file] = species; } else { delete verdicts[row.dataset.file]; }
  storeVerdicts();
  showCount();
}
function showCount() { document.getElementById('n-verdicts').textContent = Object.keys(verdicts).length; }
function csvCell(s) { return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
function verdictsCsv() {
  const rows = Object.entries(verdicts).map(([file, species]) => csvCell(file) + ',' + csvCell(species));
  return 'file,species\n' + rows.map(r => r + '\n').join('');
}
function saveVerdicts() {
  const csv = verdictsCsv();
  document.getElementById('verdicts-csv').textContent = csv;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
  link.download = 'verdicts.csv';
  document.body.appendChild(link);
  link.click();
  link.remove();
}
// The verdict controls and the full path are built here, not written into every row: a page of a large sample
// stays about 1 KB a specimen.
const VERDICT = '<label><input type="radio" name="NAME" value="confirm"> confirm</label>' +
  '<label><input type="radio" name="NAME" value="correct"> correct: ' +
  '<input class="correction" list="species" placeholder="species" size="18"></label>' +
  '<label><input type="radio" name="NAME" value="skip" checked> skip</label>';
document.querySelectorAll('tr.specimen').forEach((row, i) => {
  row.querySelector('td.verdict').innerHTML = VERDICT.replace(/NAME/g, 'v' + i);
  const path = document.createElement('small');
  path.textContent = row.dataset.file;
  row.cells[1].append(document.createElement('br'), path);
  const saved = verdicts[row.dataset.file];
  if (saved === row.dataset.species) {
    row.querySelector('input[value=confirm]').checked = true;
  } else if (saved) {
    row.querySelector('input[value=correct]').checked = true;
    row.querySelector('input.correction').value = saved;
  }
  row.querySelectorAll('input[type=radio]').forEach(input => input.addEventListener('change', () => update(row)));
  row.querySelector('input.correction').addEventListener('input', () => {
    row.querySelector('input[value=correct]').checked = true;
    update(row);
  });
});
document.getElementById('save').addEventListener('click', saveVerdicts);
document.getElementById('clear').addEventListener('click', () => {
  if (confirm('Forget every verdict of this review?')) { verdicts = {}; storeVerdicts(); location.reload(); }
});
showCount();
