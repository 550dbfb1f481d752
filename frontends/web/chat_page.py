"""How the chat looks and behaves in the page: its CSS, in Gradio's light and dark themes, and
the small script the chat's HTML runs. No Gradio and no Python logic here (app.py places
these; frontends/web/chat_ui.py renders the HTML they style).

Colours are our own variables, set for both themes, rather than Gradio's theme variables:
each pair of text and background is chosen for a contrast of at least 4.5 (WCAG AA), and
tests/test_browser.py measures it in the page. Gradio puts `.dark` on <body> for
`?__theme=dark` and for a dark OS preference.
"""

from __future__ import annotations

CSS = """
:root {
  --cq-text: #111827; --cq-muted: #4b5563; --cq-accent: #1d4ed8; --cq-error: #b91c1c;
  --cq-q-bg: #dbeafe; --cq-a-bg: #f9fafb; --cq-border: #d1d5db; --cq-flash: #eff6ff;
  --cq-mark-bg: #fde68a; --cq-mark-text: #111827; --cq-warn: #dc2626;
  --cq-stopped-bg: #fef3c7;
}
.dark {
  --cq-text: #f3f4f6; --cq-muted: #cbd5e1; --cq-accent: #93c5fd; --cq-error: #fca5a5;
  --cq-q-bg: #1e3a8a; --cq-a-bg: #1f2937; --cq-border: #4b5563; --cq-flash: #172554;
  --cq-mark-bg: #fde68a; --cq-mark-text: #111827; --cq-warn: #f87171;
  --cq-stopped-bg: #422006;
}
/* Gradio's orange and red buttons hold white text at 3.0 and 3.8: darker shades, AA in both
   themes (set on the container, so they win over the theme's own on :root and .dark) */
.gradio-container { --button-primary-background-fill: #c2410c;
  --button-primary-background-fill-hover: #9a3412; --button-primary-border-color: #c2410c;
  --button-cancel-background-fill: #b91c1c; --button-cancel-background-fill-hover: #991b1b;
  --button-cancel-border-color: #b91c1c; }
/* the chat scrolls; the page does not grow with it, so the input stays in view */
/* (Gradio's inline style on the block says overflow: visible) */
#chat { height: calc(100dvh - 320px); min-height: 240px;
  overflow-y: auto !important; }
/* Gradio's `.prose *` gives every element the theme's text colour; ours win */
#chat .citeqa-turn * { color: var(--cq-text); }
#chat .citeqa-empty { color: var(--cq-muted); padding: 24px 8px; }
#chat .citeqa-turn { margin: 12px 0; color: var(--cq-text); }
#chat .citeqa-q { margin-left: auto; max-width: 85%; width: fit-content;
  background: var(--cq-q-bg); color: var(--cq-text); border-radius: 12px; padding: 6px 12px; }
#chat .citeqa-q p, #chat .citeqa-text { margin: 0; white-space: pre-wrap;
  overflow-wrap: anywhere; color: var(--cq-text); }
#chat .citeqa-a { margin-top: 8px; max-width: 100%; background: var(--cq-a-bg);
  color: var(--cq-text); border: 1px solid var(--cq-border); border-radius: 12px;
  padding: 8px 12px; }
#chat .citeqa-a b, #chat .citeqa-a strong { color: var(--cq-text); }
#chat .citeqa-state { color: var(--cq-accent); font-style: italic; margin: 0 0 4px; }
#chat .citeqa-stopped { background: var(--cq-stopped-bg); }
#chat .citeqa-stopped .citeqa-state { color: var(--cq-text); font-style: normal;
  font-weight: 600; }
#chat button.citeqa-copy, #chat button.citeqa-retry { display: block; margin: 6px 0 0 auto;
  font-size: 0.8em; font-weight: normal; color: var(--cq-text); background: none;
  border: 1px solid var(--cq-border); border-radius: 6px; padding: 0 8px; min-width: 0;
  box-shadow: none; }
#chat .citeqa-marker, #chat .citeqa-a a.citeqa-marker { font-weight: 600; text-decoration: none;
  color: var(--cq-accent); cursor: pointer; }
#chat .citeqa-marker:hover, #chat .citeqa-marker:focus { text-decoration: underline; }
#chat .citeqa-sources, #chat .citeqa-related { margin-top: 8px; }
#chat .citeqa-source { border-left: 3px solid var(--cq-accent); padding: 2px 10px;
  margin: 6px 0; }
#chat .citeqa-source:target, #chat .citeqa-source.citeqa-flash { background: var(--cq-flash); }
#chat .citeqa-source summary { cursor: pointer; overflow-wrap: anywhere; }
#chat .citeqa-a mark { background: var(--cq-mark-bg); color: var(--cq-mark-text);
  padding: 0 2px; }
#chat .citeqa-source blockquote { margin: 4px 0 4px 8px; color: var(--cq-text);
  border-left-color: var(--cq-border); }
#chat .citeqa-passage p { margin: 2px 0; white-space: pre-wrap; overflow-wrap: anywhere;
  color: var(--cq-text); }
#chat .citeqa-unsupported { text-decoration: underline wavy var(--cq-warn); }
#chat .citeqa-meta { color: var(--cq-muted); font-size: 0.85em; overflow-wrap: anywhere; }
#chat .citeqa-related ul { padding-left: 18px; margin: 4px 0; }
#chat .citeqa-related li { color: var(--cq-text); margin: 6px 0; }
/* block paragraphs: Gradio's prose shows a list item's <p> inline, gluing file and text */
#chat .citeqa-related .citeqa-rel-head { display: block; margin: 0; }
#chat .citeqa-related .citeqa-snippet { display: block; margin: 2px 0 0;
  color: var(--cq-muted); }
#chat .citeqa-error { color: var(--cq-error); margin: 0; }
.citeqa-scroll { overflow-x: auto; max-width: 100%; }
#chat button.citeqa-open { margin: 4px 0 2px; font-size: 0.85em; color: var(--cq-accent);
  background: none; border: 1px solid var(--cq-border); border-radius: 6px; padding: 0 8px; }
/* the document viewer: a panel over the page, the cited span marked */
/* (Gradio gives the group's inner box the same id: only the outer one is placed) */
#viewer-panel { position: fixed; top: 4vh; left: 4vw; width: 92vw; height: 92vh; z-index: 1000;
  box-shadow: 0 8px 40px rgba(0, 0, 0, 0.45); }
#viewer { height: calc(92vh - 64px); overflow-y: auto !important; }
#viewer .citeqa-doc, #viewer .citeqa-doc * { color: var(--cq-text); }
#viewer .citeqa-doc { background: var(--cq-a-bg); padding: 8px 12px; }
#viewer-panel #viewer-panel { position: static; width: auto; height: auto; box-shadow: none; }
#viewer .citeqa-doc-head { margin: 0 0 8px; position: sticky; top: 0; padding: 4px 0;
  background: var(--cq-a-bg); }
#viewer .citeqa-doc .citeqa-meta { color: var(--cq-muted); font-size: 0.85em; }
#viewer .citeqa-doc-text { white-space: pre-wrap; overflow-wrap: anywhere; }
#viewer mark.citeqa-cited { background: var(--cq-mark-bg); color: var(--cq-mark-text);
  outline: 2px solid var(--cq-accent); }
#viewer-controls { display: none !important; }
#conversations .wrap { flex-direction: column; align-items: stretch; }
#conversations label { overflow-wrap: anywhere; }
#stop:disabled { opacity: 0.45; cursor: default; }
#ask-row { flex-wrap: wrap; }
@media (max-width: 560px) {
  /* the question gets a line of its own; the buttons share the next one */
  #ask-row > *:has(#question), #ask-row > #question { flex: 1 1 100% !important; }
  /* a phone's width goes to the answer, not to four nested margins */
  .gradio-container .main { padding-left: 8px !important; padding-right: 8px !important; }
  #chat { height: calc(100dvh - 370px); padding: 4px !important; }
  #chat .html-container { padding: 4px !important; }
  #chat .citeqa-a { padding: 8px 10px; }
  #chat .citeqa-q { max-width: 92%; }
  /* the Documents table's four columns side by side, its long file names wrapped */
  #documents-table th *, #documents-table td * { font-size: 12px !important; }
  #documents-table td * { overflow-wrap: anywhere; }
  #documents-table th, #documents-table td, #documents-table th * { padding-left: 2px !important;
    padding-right: 2px !important; }
  #documents-table th * { overflow-wrap: normal; word-break: keep-all; }
}
"""

# [n] opens and shows its source; "Open the document" shows it whole, at the cited span;
# Copy puts the answer as plain text on the clipboard; Retry asks a stopped question again.
# New content scrolls the chat, not the page.
CHAT_JS = """
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
"""

# The viewer shows the cited span, in the middle of its panel: when it opens (the panel's
# content is created then) and when another document replaces the one shown.
VIEWER_JS = """
const show = () => setTimeout(() => {
  const cited = element.querySelector('mark.citeqa-cited');
  if (cited) cited.scrollIntoView({block: 'center'});
}, 50);
show();
watch('value', show);
"""

__all__ = ["CHAT_JS", "CSS", "VIEWER_JS"]
