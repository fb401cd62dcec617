// review-groups.html: a group's name is the verdict of every member (one entry per file in the verdicts every page
// shares).
document.querySelectorAll('div.group').forEach(group => {
  const files = JSON.parse(group.dataset.files);
  const input = group.querySelector('input.group-name');
  const names = new Set(files.map(f => verdicts[f]));
  if (names.size === 1 && verdicts[files[0]]) { input.value = verdicts[files[0]]; }
  input.addEventListener('input', () => {
    const name = input.value.trim();
    files.forEach(f => { if (name) { verdicts[f] = name; } else { delete verdicts[f]; } });
    storeVerdicts();
    showCount();
  });
});
