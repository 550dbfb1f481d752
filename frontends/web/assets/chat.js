// The chat's script (Gradio's js_on_load on the chat's HTML: `element` and `watch` given).
// [n] opens and shows its source; "Open the document" shows it whole, at the cited span;
// Copy puts the answer as plain text on the clipboard; Retry asks a stopped question again.
// New content scrolls the chat, not the page.
element.addEventListener('click', (event) => {
  const marker = event.target.closest('a.citeqa-marker');
  if (marker) {
    event.preventDefault();
    const source = element.querySelector('[id="' + marker.dataset.source + '"]');
    if (!source) return;
    element.querySelectorAll('.citeqa-flash').forEach((s) => s.classList.remove('citeqa-flash'));
    source.open = true;
    source.classList.add('citeqa-flash');
    source.scrollIntoView({block: 'nearest'});
    source.querySelector('summary').focus();
    return;
  }
  const open = event.target.closest('button.citeqa-open');
  if (open) {
    const request = document.querySelector('#viewer-request textarea');
    const button = document.querySelector('#viewer-open');
    if (!request || !button) return;
    const {source, start, end} = open.dataset;
    request.value = JSON.stringify({source, start: Number(start), end: Number(end)});
    request.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => button.click(), 0);
    return;
  }
  const retry = event.target.closest('button.citeqa-retry');
  if (retry) {
    const box = document.querySelector('#question textarea');
    const ask = document.querySelector('#ask');
    if (!box || !ask) return;
    box.value = retry.closest('.citeqa-turn').querySelector('.citeqa-q p').textContent;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => ask.click(), 0);
    return;
  }
  const copy = event.target.closest('button.citeqa-copy');
  if (copy) {
    const text = copy.closest('.citeqa-a').dataset.plain;
    const done = () => {
      copy.textContent = 'Copied';
      setTimeout(() => copy.textContent = 'Copy', 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove(); done();
    }
  }
});
watch('value', () => {
  const pending = element.querySelector('.citeqa-pending');
  const last = element.querySelector('.citeqa-turn:last-of-type');
  const shown = pending || last;
  if (shown) shown.scrollIntoView({block: pending ? 'end' : 'nearest'});
});
